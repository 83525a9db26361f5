import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPrivateKeySpec;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/** The `modern` primitives, JDK 17 only, as docs/modern-protocol.md §1, §2, §3, §11 describe them. */
final class ModernCrypto {
  static final SecureRandom RNG = new SecureRandom();
  static final ECParameterSpec P256;
  static final BigInteger P = new BigInteger("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", 16);
  static final BigInteger B = new BigInteger("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b", 16);
  static final BigInteger N = new BigInteger("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16);
  static final BigInteger GX = new BigInteger("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296", 16);
  static final BigInteger GY = new BigInteger("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5", 16);

  static {
    try {
      AlgorithmParameters ap = AlgorithmParameters.getInstance("EC");
      ap.init(new ECGenParameterSpec("secp256r1"));
      P256 = ap.getParameterSpec(ECParameterSpec.class);
    } catch (Exception e) { throw new ExceptionInInitializerError(e); }
  }

  // ---- b64u, strict (§1): Java's decoder accepts padding and non-zero trailing bits, so re-encode and compare.
  static String b64u(byte[] b) { return Base64.getUrlEncoder().withoutPadding().encodeToString(b); }

  /** Strict b64u of exactly `len` bytes (len < 0: any length), or null. */
  static byte[] unb64u(String s, int len) {
    if (s == null) return null;
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return null;
    }
    byte[] b;
    try { b = Base64.getUrlDecoder().decode(s); } catch (IllegalArgumentException e) { return null; }
    if (!b64u(b).equals(s)) return null;
    if (len >= 0 && b.length != len) return null;
    return b;
  }

  static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }

  /** Strict UTF-8 (§1): an invalid sequence is an error, never U+FFFD. */
  static String strictUtf8(byte[] b) throws CharacterCodingException {
    return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
  }

  static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) n += p.length;
    byte[] out = new byte[n];
    int o = 0;
    for (byte[] p : parts) { System.arraycopy(p, 0, out, o, p.length); o += p.length; }
    return out;
  }

  static byte[] hex(String h) {
    byte[] b = new byte[h.length() / 2];
    for (int k = 0; k < b.length; k++) b[k] = (byte) Integer.parseInt(h.substring(2 * k, 2 * k + 2), 16);
    return b;
  }

  static String toHex(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (byte x : b) s.append(String.format("%02x", x & 0xff));
    return s.toString();
  }

  // ---- points (§2): 0x04 ‖ X(32) ‖ Y(32); BigInteger.toByteArray has a sign byte or too few bytes.
  static byte[] fixed32(BigInteger v) {
    byte[] raw = v.toByteArray();
    byte[] out = new byte[32];
    if (raw.length > 32) System.arraycopy(raw, raw.length - 32, out, 0, 32);
    else System.arraycopy(raw, 0, out, 32 - raw.length, raw.length);
    return out;
  }

  static byte[] rawPoint(ECPublicKey k) {
    return concat(new byte[] { 4 }, fixed32(k.getW().getAffineX()), fixed32(k.getW().getAffineY()));
  }

  /**
   * A raw point -> ECPublicKey, or null if it is not on P-256. The on-curve check is ours:
   * KeyFactory takes any coordinates, and whether KeyAgreement checks depends on the JDK build.
   */
  static ECPublicKey publicFromRaw(byte[] raw) throws Exception {
    if (raw == null || raw.length != 65 || raw[0] != 4) return null;
    BigInteger x = new BigInteger(1, Arrays.copyOfRange(raw, 1, 33));
    BigInteger y = new BigInteger(1, Arrays.copyOfRange(raw, 33, 65));
    if (x.compareTo(P) >= 0 || y.compareTo(P) >= 0) return null;
    BigInteger lhs = y.multiply(y).mod(P);
    BigInteger rhs = x.pow(3).subtract(x.multiply(BigInteger.valueOf(3))).add(B).mod(P);
    if (!lhs.equals(rhs)) return null;
    return (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(new ECPoint(x, y), P256));
  }

  static KeyPair ephemeral() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"), RNG);
    return g.generateKeyPair();
  }

  static PrivateKey privateFromScalar(byte[] d) throws Exception {
    return KeyFactory.getInstance("EC").generatePrivate(new ECPrivateKeySpec(new BigInteger(1, d), P256));
  }

  static PrivateKey privateFromPem(String pem) throws Exception {
    String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64)));
  }

  static PublicKey publicFromSpki(String b64) throws Exception {
    return KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(b64)));
  }

  /**
   * The public point of a fixed scalar (vectors mode only): the JDK has no public API for it,
   * so affine double-and-add over P-256 with BigInteger (slow, not constant time: test only).
   */
  static byte[] publicRawFromScalar(byte[] d) {
    BigInteger k = new BigInteger(1, d);
    BigInteger[] r = null;
    BigInteger[] a = { GX, GY };
    for (int bit = 0; bit < k.bitLength(); bit++) {
      if (k.testBit(bit)) r = add(r, a);
      a = add(a, a);
    }
    return concat(new byte[] { 4 }, fixed32(r[0]), fixed32(r[1]));
  }

  private static BigInteger[] add(BigInteger[] p, BigInteger[] q) {
    if (p == null) return q;
    if (q == null) return p;
    BigInteger l;
    if (p[0].equals(q[0])) {
      if (!p[1].equals(q[1]) || p[1].signum() == 0) return null;
      l = p[0].pow(2).multiply(BigInteger.valueOf(3)).subtract(BigInteger.valueOf(3)).multiply(p[1].shiftLeft(1).modInverse(P)).mod(P);
    } else {
      l = q[1].subtract(p[1]).multiply(q[0].subtract(p[0]).modInverse(P)).mod(P);
    }
    BigInteger x = l.pow(2).subtract(p[0]).subtract(q[0]).mod(P);
    BigInteger y = l.multiply(p[0].subtract(x)).subtract(p[1]).mod(P);
    return new BigInteger[] { x, y };
  }

  /** ECDH: the 32-byte x-coordinate (§3.2 step 4). */
  static byte[] ecdh(PrivateKey mine, PublicKey theirs) throws Exception {
    KeyAgreement ka = KeyAgreement.getInstance("ECDH");
    ka.init(mine);
    ka.doPhase(theirs, true);
    return ka.generateSecret();
  }

  static byte[] hmac(byte[] key, byte[]... data) throws Exception {
    Mac m = Mac.getInstance("HmacSHA256");
    m.init(new SecretKeySpec(key, "HmacSHA256"));
    for (byte[] d : data) m.update(d);
    return m.doFinal();
  }

  /** HKDF-SHA256 with L = 32, one block (§11): PRK = HMAC(salt, Z); OKM = HMAC(PRK, info ‖ 0x01). */
  static byte[] hkdf32(byte[] ikm, byte[] salt, byte[] info) throws Exception {
    byte[] prk = hmac(salt, ikm);
    return hmac(prk, info, new byte[] { 1 });
  }

  static byte[] sign(PrivateKey k, byte[] msg, boolean der) throws Exception {
    Signature s = Signature.getInstance(der ? "SHA256withECDSA" : "SHA256withECDSAinP1363Format");
    s.initSign(k, RNG);
    s.update(msg);
    return s.sign();
  }

  static boolean verify(PublicKey k, byte[] msg, byte[] p1363) throws Exception {
    Signature s = Signature.getInstance("SHA256withECDSAinP1363Format");
    s.initVerify(k);
    s.update(msg);
    try { return s.verify(p1363); } catch (java.security.SignatureException e) { return false; }
  }

  /** AES-256-GCM: iv ‖ ciphertext ‖ tag (what AES/GCM/NoPadding's doFinal gives, IV in front). */
  static byte[] seal(byte[] key, byte[] iv, byte[] plaintext, byte[] aad) throws Exception {
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, iv));
    c.updateAAD(aad);
    return concat(iv, c.doFinal(plaintext));
  }

  /** Opens iv ‖ ciphertext ‖ tag, or null when it does not authenticate (or is under 28 bytes). */
  static byte[] open(byte[] key, byte[] body, byte[] aad) {
    if (body.length < 28) return null;
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, body, 0, 12));
      c.updateAAD(aad);
      return c.doFinal(body, 12, body.length - 12);
    } catch (Exception e) { return null; }
  }

  static byte[] random(int n) { byte[] b = new byte[n]; RNG.nextBytes(b); return b; }

  static byte[] sha256(byte[] b) throws Exception { return java.security.MessageDigest.getInstance("SHA-256").digest(b); }
}
