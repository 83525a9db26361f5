export { verifyPackage, CERT_FILE, type VerifyPackageOptions, type VerifiedPackage } from './verify.js';
export { loadPackage, type LoadPackageOptions, type LoadPackageResult } from './load.js';
