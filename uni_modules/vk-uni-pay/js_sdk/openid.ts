/** The payer's openid in a mini program: `uni.login` + `code2Session*` on the server, cached per client. */
import { toCallError } from './cloud';
import { str, type FlowContext } from './flow';

const LOGIN: Record<string, { provider: string; method: string }> = {
  'mp-weixin': { provider: 'weixin', method: 'code2SessionWeixinMP' },
  'mp-alipay': { provider: 'alipay', method: 'code2SessionAlipay' },
};

/** Whether createPayment should fetch an openid before creating the order. */
export function needsOpenid(ctx: FlowContext, payload: Record<string, unknown>): boolean {
  return ctx.opts.autoGetOpenid && payload.openid === undefined && !!LOGIN[ctx.deps.env.platform] && payload.provider !== 'vkspay';
}

/** Per client instance: one user session's openid, never shared through module state. */
export class OpenidSession {
  private openid: string | undefined;
  private pending: Promise<string | undefined> | undefined;

  constructor(private readonly ctx: FlowContext) {}

  /** Resolves `undefined` where no login applies (H5, App). */
  get(): Promise<string | undefined> {
    if (this.openid) return Promise.resolve(this.openid);
    const login = LOGIN[this.ctx.deps.env.platform];
    if (!login) return Promise.resolve(undefined);
    if (!this.pending) {
      this.pending = this.fetch(login.provider, login.method).catch((e: unknown) => {
        this.pending = undefined; // a failed login may be retried
        throw toCallError(e);
      });
    }
    return this.pending;
  }

  clear(): void {
    this.openid = undefined;
    this.pending = undefined;
  }

  private async fetch(provider: string, method: string): Promise<string> {
    const { uni, callCloud } = this.ctx.deps;
    const login = await new Promise<{ code?: string; authCode?: string }>((resolve, reject) =>
      uni.login({ provider, success: resolve, fail: reject }),
    );
    const code = login.code || login.authCode;
    if (!code) throw toCallError({ errCode: 'LOGIN_FAILED', errMsg: 'uni.login returned no code' });
    const res = await callCloud(this.ctx.vkPayMethod(method), { code });
    const openid = str(res.openid);
    if (!openid) throw toCallError({ errCode: 'NO_OPENID', errMsg: `${method} returned no openid` });
    this.openid = openid;
    return openid;
  }
}
