/** WeChat Pay cryptography: one small module per job (signer, verifier, cipher, v2, nonce). */
export * from './nonce';
export * from './signer';
export * from './verifier';
export * from './cipher';
export * from './v2';
export * from './oaep';
