/** Alipay open-platform cryptography on node:crypto: one small module per job. */
export * from './keys';
export * from './signer';
export * from './verifier';
export * from './cert';
