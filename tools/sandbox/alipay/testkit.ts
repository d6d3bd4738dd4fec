/**
 * Helpers for code that drives the Alipay sandbox: the vk-uni-pay config node for a sandbox app
 * (key or cert mode) and a plain loopback HttpTransport (node fetch; tests only).
 */
import type { AlipaySandbox, AlipaySandboxApp } from './index';

/** `config.alipay[<platformKey>]` for this sandbox app, pointing at the sandbox gateway */
export function alipayNodeConfig(
  app: AlipaySandboxApp,
  sandbox: Pick<AlipaySandbox, 'gateway' | 'url'>,
  extra: Record<string, unknown> = {},
) {
  const base = { appId: app.appId, privateKey: app.appPrivateKeyPem, gateway: sandbox.gateway, endpoint: sandbox.url };
  if (!app.certMode) return { ...base, alipayPublicKey: app.alipayPublicKeyPem, ...extra };
  return {
    ...base,
    appCertContent: app.appCert!.certPem,
    alipayPublicCertContent: app.alipayCert!.certPem,
    alipayRootCertContent: app.rootBundlePem ?? app.rootCert!.certPem,
    ...extra,
  };
}

export interface LoopbackRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/** structurally an HttpTransport (server/transport/http.ts) */
export function loopbackTransport() {
  return {
    async request(req: LoopbackRequest) {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body as BodyInit | undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(req.timeoutMs ?? 10_000),
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
      return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) };
    },
  };
}
