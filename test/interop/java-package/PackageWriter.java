import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * An offline package written the way Java build tools write one: java.util.zip.ZipOutputStream
 * (deflated entries followed by data descriptors, a stored entry with its sizes up front, a
 * directory entry, a UTF-8 name) and CERT.json mapping each file to base64 SHA256withRSA over
 * its bytes. JDK only. Usage: PackageWriter <PKCS#8 PEM private key> <out.zip>
 */
public final class PackageWriter {
  public static void main(String[] args) throws Exception {
    String pem = Files.readString(Path.of(args[0]), StandardCharsets.US_ASCII);
    String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));

    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("index.html", "<!doctype html><h1>offline</h1>".repeat(40).getBytes(StandardCharsets.UTF_8));
    files.put("js/app.js", "console.log('离线包');\n".repeat(100).getBytes(StandardCharsets.UTF_8));
    files.put("页面/首页.html", "<p>首页</p>".getBytes(StandardCharsets.UTF_8));
    byte[] logo = new byte[300];
    for (int i = 0; i < logo.length; i++) logo[i] = (byte) (i * 7);
    files.put("img/logo.bin", logo);

    StringBuilder cert = new StringBuilder("{");
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      Signature s = Signature.getInstance("SHA256withRSA");
      s.initSign(key);
      s.update(f.getValue());
      if (cert.length() > 1) cert.append(',');
      cert.append('"').append(f.getKey()).append("\":\"").append(Base64.getEncoder().encodeToString(s.sign())).append('"');
    }
    cert.append('}');

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(out, StandardCharsets.UTF_8)) {
      zip.putNextEntry(new ZipEntry("js/"));
      zip.closeEntry();
      for (Map.Entry<String, byte[]> f : files.entrySet()) {
        ZipEntry e = new ZipEntry(f.getKey());
        if (f.getKey().endsWith(".bin")) {
          // STORED: sizes and CRC up front, no data descriptor.
          CRC32 crc = new CRC32();
          crc.update(f.getValue());
          e.setMethod(ZipEntry.STORED);
          e.setSize(f.getValue().length);
          e.setCompressedSize(f.getValue().length);
          e.setCrc(crc.getValue());
        }
        zip.putNextEntry(e);
        zip.write(f.getValue());
        zip.closeEntry();
      }
      zip.putNextEntry(new ZipEntry("CERT.json"));
      zip.write(cert.toString().getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
    }
    try (FileOutputStream f = new FileOutputStream(args[1])) {
      f.write(out.toByteArray());
    }
  }
}
