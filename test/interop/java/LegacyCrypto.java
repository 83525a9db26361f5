import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Properties;

import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The EncryptUtil / Md5Encrypt of the legacy back ends, with the knobs PROTOCOLS.md lists
 * ("Common options"). Written the way those back ends are: Cipher.getInstance("AES") with
 * the raw key bytes, KeyGenerator + SHA1PRNG seeded with the secret, MessageDigest MD5.
 * Independent of the TypeScript code: nothing here was generated from it.
 */
public class LegacyCrypto {
    final String cipher;    // AES-ECB | AES-CBC | AES-GCM
    final String iv;        // "key" or a 16-character string (CBC only)
    final String keyFrom;   // utf8 | hex | base64 | md5 | sha256 | java-sha1prng
    final String encoding;  // base64 | hex | base64url
    final String digest;    // md5 | sha1 | sha256 | hmac-sha256
    final String signHex;   // padded | biginteger (new BigInteger(1, d).toString(16): drops leading zeros, as many helpers do)

    private static final SecureRandom RANDOM = new SecureRandom();

    LegacyCrypto(Properties p, String prefix) {
        cipher = p.getProperty(prefix + "cipher", "AES-ECB");
        iv = p.getProperty(prefix + "iv", "key");
        keyFrom = p.getProperty(prefix + "keyFrom", "utf8");
        encoding = p.getProperty(prefix + "encoding", "base64");
        digest = p.getProperty(prefix + "digest", "md5");
        signHex = p.getProperty(prefix + "signHex", "padded");
    }

    byte[] key(String secret) throws Exception {
        byte[] utf8 = secret.getBytes(StandardCharsets.UTF_8);
        switch (keyFrom) {
            case "utf8":
                return utf8;
            case "hex":
                return hexDecode(secret);
            case "base64":
                return Base64.getDecoder().decode(secret);
            case "md5":
                return MessageDigest.getInstance("MD5").digest(utf8);
            case "sha256":
                return MessageDigest.getInstance("SHA-256").digest(utf8);
            case "java-sha1prng": {
                // The classic "getKey(password)" of Android/Java AES helpers.
                KeyGenerator kgen = KeyGenerator.getInstance("AES");
                SecureRandom random = SecureRandom.getInstance("SHA1PRNG");
                random.setSeed(utf8);
                kgen.init(128, random);
                return kgen.generateKey().getEncoded();
            }
            default:
                throw new IllegalArgumentException("keyFrom " + keyFrom);
        }
    }

    /** aesEncode(content, secret); `gcmIv` is used for GCM when given (reference sealing), else random. */
    String encrypt(String content, String secret, byte[] gcmIv) throws Exception {
        byte[] raw = key(secret);
        SecretKeySpec skey = new SecretKeySpec(raw, "AES");
        byte[] plain = content.getBytes(StandardCharsets.UTF_8);
        byte[] out;
        if ("AES-ECB".equals(cipher)) {
            Cipher c = Cipher.getInstance("AES");
            c.init(Cipher.ENCRYPT_MODE, skey);
            out = c.doFinal(plain);
        } else if ("AES-CBC".equals(cipher)) {
            Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
            c.init(Cipher.ENCRYPT_MODE, skey, new IvParameterSpec(cbcIv(raw)));
            out = c.doFinal(plain);
        } else {
            byte[] nonce = gcmIv;
            if (nonce == null) {
                nonce = new byte[12];
                RANDOM.nextBytes(nonce);
            }
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, skey, new GCMParameterSpec(128, nonce));
            byte[] ct = c.doFinal(plain);
            out = new byte[12 + ct.length];
            System.arraycopy(nonce, 0, out, 0, 12);
            System.arraycopy(ct, 0, out, 12, ct.length);
        }
        return encode(out);
    }

    String encrypt(String content, String secret) throws Exception {
        return encrypt(content, secret, null);
    }

    /** aesDecode(content, secret): throws on anything that does not decode, decrypt or unpad. */
    String decrypt(String content, String secret) throws Exception {
        byte[] raw = key(secret);
        SecretKeySpec skey = new SecretKeySpec(raw, "AES");
        byte[] data = decode(content);
        byte[] plain;
        if ("AES-ECB".equals(cipher)) {
            Cipher c = Cipher.getInstance("AES");
            c.init(Cipher.DECRYPT_MODE, skey);
            plain = c.doFinal(data);
        } else if ("AES-CBC".equals(cipher)) {
            Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
            c.init(Cipher.DECRYPT_MODE, skey, new IvParameterSpec(cbcIv(raw)));
            plain = c.doFinal(data);
        } else {
            if (data.length < 28) throw new IllegalArgumentException("short");
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, skey, new GCMParameterSpec(128, data, 0, 12));
            plain = c.doFinal(data, 12, data.length - 12);
        }
        return new String(plain, StandardCharsets.UTF_8);
    }

    private byte[] cbcIv(byte[] raw) {
        if ("key".equals(iv)) {
            byte[] out = new byte[16];
            System.arraycopy(raw, 0, out, 0, 16);
            return out;
        }
        return iv.getBytes(StandardCharsets.UTF_8);
    }

    /** Md5Encrypt.md5(text) and its siblings: lower-case hex; HMAC keyed with the secret's UTF-8 bytes. */
    String sign(String text, String secret) throws Exception {
        byte[] msg = text.getBytes(StandardCharsets.UTF_8);
        byte[] d;
        switch (digest) {
            case "md5":
                d = MessageDigest.getInstance("MD5").digest(msg);
                break;
            case "sha1":
                d = MessageDigest.getInstance("SHA-1").digest(msg);
                break;
            case "sha256":
                d = MessageDigest.getInstance("SHA-256").digest(msg);
                break;
            case "hmac-sha256": {
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
                d = mac.doFinal(msg);
                break;
            }
            default:
                throw new IllegalArgumentException("digest " + digest);
        }
        return "biginteger".equals(signHex) ? new java.math.BigInteger(1, d).toString(16) : hexEncode(d);
    }

    String encode(byte[] b) {
        switch (encoding) {
            case "hex":
                return hexEncode(b);
            case "base64url":
                return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
            default:
                return Base64.getEncoder().encodeToString(b);
        }
    }

    byte[] decode(String s) {
        switch (encoding) {
            case "hex":
                return hexDecode(s);
            case "base64url":
                return Base64.getUrlDecoder().decode(s);
            default:
                return Base64.getDecoder().decode(s);
        }
    }

    static String hexEncode(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            String h = Integer.toHexString(x & 0xff);
            if (h.length() == 1) sb.append('0');
            sb.append(h);
        }
        return sb.toString();
    }

    static byte[] hexDecode(String s) {
        if (s.length() % 2 != 0) throw new IllegalArgumentException("odd hex");
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            int hi = Character.digit(s.charAt(2 * i), 16);
            int lo = Character.digit(s.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) throw new IllegalArgumentException("bad hex");
            out[i] = (byte) ((hi << 4) | lo);
        }
        return out;
    }
}
