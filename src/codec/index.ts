export * from './bytes.js';
export * from './utf8.js';
export * from './hex.js';
export * from './base64.js';
export * from './text.js';
export * from './form.js';
