/**
 * WeChat Pay sandbox: merchant transfer in user-confirm mode (商家转账). v3 routes (signed like the
 * others):
 *   POST /v3/fund-app/mch-transfer/transfer-bills                        → 200 {out_bill_no, transfer_bill_no, create_time, state: WAIT_USER_CONFIRM, package_info}
 *   GET  /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}       → 200 bill | 404 NOT_FOUND
 *   GET  /v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{no}  → 200 bill | 404 NOT_FOUND
 *   POST /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}/cancel → 200 {state: CANCELING} (then CANCELLED + notification)
 * Rules: out_bill_no 1-32 letters/digits; transfer_amount ≥ 10 fen; `user_name` required from
 * 200000 fen and must decrypt (RSA-OAEP) with the key the request's Wechatpay-Serial names; the same
 * out_bill_no with the same parameters answers the same bill, with others INVALID_REQUEST; an openid
 * starting with `FAIL_` makes a bill that fails (fail_reason = the rest, e.g. FAIL_ACCOUNT_FROZEN).
 * The payee side (not WeChat's; for people, browsers and scripts):
 *   GET  /transfer-confirm?package=…     confirm page (#confirm-btn) — what requestMerchantTransfer shows
 *   POST /transfer-confirm?package=…     the payee confirms: SUCCESS, then MCHTRANSFER.BILL.FINISHED
 *   POST /sandbox/transfer/confirm {package_info}  the same for scripts
 */
import { constants, createPrivateKey, privateDecrypt, randomBytes } from 'node:crypto';
import { escapeHtml } from '../html';
import type { PeerRequest, PeerResponse } from '../loopback';
import { digits, fenToYuan, rfc3339Beijing } from './protocol';
import { isHttpUrl, isObj, stable, type Json, type WxpayState } from './state';
import { err, invalid, missing, type V3Ctx, type V3Result, type V3Route } from './v3';

export type WxTransferState = 'WAIT_USER_CONFIRM' | 'SUCCESS' | 'FAIL' | 'CANCELING' | 'CANCELLED';

export interface SandboxTransfer {
  mchid: string;
  appid: string;
  out_bill_no: string;
  transfer_bill_no: string;
  transfer_scene_id: string;
  openid: string;
  /** decrypted payee name */
  user_name?: string;
  transfer_amount: number;
  transfer_remark: string;
  notify_url?: string;
  state: WxTransferState;
  fail_reason?: string;
  package_info: string;
  create_time: number;
  update_time: number;
  fingerprint: string;
}

const BILLS = '/v3/fund-app/mch-transfer/transfer-bills';
const key = (mchid: string, no: string) => `${mchid}|${no}`;

export function wxpayTransfers(state: WxpayState, deliverEvent: (mchid: string, url: string, key: string, event: any) => void) {
  const bills = new Map<string, SandboxTransfer>();
  const byPackage = new Map<string, SandboxTransfer>();

  const billJson = (b: SandboxTransfer): Json => ({
    mch_id: b.mchid,
    out_bill_no: b.out_bill_no,
    transfer_bill_no: b.transfer_bill_no,
    appid: b.appid,
    state: b.state,
    transfer_amount: b.transfer_amount,
    transfer_remark: b.transfer_remark,
    ...(b.fail_reason ? { fail_reason: b.fail_reason } : {}),
    openid: b.openid,
    create_time: rfc3339Beijing(b.create_time),
    update_time: rfc3339Beijing(b.update_time),
  });

  /** a final state: the bill changes and MCHTRANSFER.BILL.FINISHED goes to its notify_url */
  function finish(b: SandboxTransfer, to: 'SUCCESS' | 'FAIL' | 'CANCELLED', fail_reason?: string): void {
    b.state = to;
    b.update_time = state.now();
    if (fail_reason) b.fail_reason = fail_reason;
    state.log('transfer', b.mchid, b.out_bill_no, to);
    if (!b.notify_url) return;
    const { appid: _a, transfer_remark: _r, ...plaintext } = billJson(b);
    deliverEvent(b.mchid, b.notify_url, b.out_bill_no, {
      plaintext,
      event_type: 'MCHTRANSFER.BILL.FINISHED',
      summary: '商家转账单据终态通知',
      original_type: 'mch_payment',
    });
  }

  /** the payee name, decrypted with the WeChat-side private key the Wechatpay-Serial names */
  function decryptName(ctx: V3Ctx, req: PeerRequest, cipher: string): string | undefined {
    const serial = req.headers['wechatpay-serial'];
    const pem =
      serial === ctx.rt.m.publicKeyId
        ? ctx.rt.m.publicKey.privateKeyPem
        : serial === ctx.rt.m.platform.serialHex
          ? ctx.rt.m.platform.keyPem
          : '';
    if (!pem) return undefined;
    try {
      return privateDecrypt(
        { key: createPrivateKey(pem), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
        Buffer.from(cipher, 'base64'),
      ).toString('utf8');
    } catch {
      return undefined;
    }
  }

  function create(ctx: V3Ctx, _m: string[], req: PeerRequest): V3Result {
    const b = ctx.body;
    if (!isObj(b)) return err(400, 'PARAM_ERROR', '请求体不是有效的JSON对象');
    for (const p of ['appid', 'out_bill_no', 'transfer_scene_id', 'openid', 'transfer_amount', 'transfer_remark'])
      if (b[p] === undefined || b[p] === null || b[p] === '') return missing(p);
    if (typeof b.out_bill_no !== 'string' || !/^[0-9A-Za-z]{1,32}$/.test(b.out_bill_no))
      return invalid('out_bill_no', b.out_bill_no, '应为1-32位数字或大小写字母');
    const amount = b.transfer_amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 10)
      return invalid('transfer_amount', amount, '转账金额不能低于0.1元（10分）');
    if (typeof b.transfer_remark !== 'string' || [...b.transfer_remark].length > 32)
      return invalid('transfer_remark', b.transfer_remark, '最多32个字符');
    if (typeof b.transfer_scene_id !== 'string') return invalid('transfer_scene_id', b.transfer_scene_id, '应为字符串');
    if (b.notify_url !== undefined && !isHttpUrl(b.notify_url)) return invalid('notify_url', b.notify_url, '应为http(s)地址');
    if (!ctx.rt.m.appids.includes(b.appid as string)) return err(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    let user_name: string | undefined;
    if (b.user_name !== undefined) {
      user_name = typeof b.user_name === 'string' ? decryptName(ctx, req, b.user_name) : undefined;
      if (user_name === undefined) return invalid('user_name', '***', '解密失败，请检查加密公钥与Wechatpay-Serial');
    }
    if (amount >= 200_000 && !user_name) return invalid('user_name', undefined, '转账金额>=2000元时，收款用户姓名必填');
    const mchid = ctx.rt.m.mchid;
    // the fingerprint holds the decrypted name: the ciphertext differs on every (correct) retry
    const fingerprint = stable({ ...b, user_name });
    const prev = bills.get(key(mchid, b.out_bill_no));
    if (prev) {
      if (prev.fingerprint !== fingerprint) return err(400, 'INVALID_REQUEST', '商户单号重复，且请求参数与原请求不一致');
      return { status: 200, body: createAnswer(prev) };
    }
    const t = state.now();
    const bill: SandboxTransfer = {
      mchid,
      appid: b.appid as string,
      out_bill_no: b.out_bill_no,
      transfer_bill_no: `1330000${digits(13)}${digits(12)}`,
      transfer_scene_id: b.transfer_scene_id,
      openid: b.openid as string,
      user_name,
      transfer_amount: amount,
      transfer_remark: b.transfer_remark,
      notify_url: b.notify_url as string | undefined,
      state: 'WAIT_USER_CONFIRM',
      package_info: `ABBQO+oYAAABAAAAAAB${randomBytes(24).toString('base64url')}`,
      create_time: t,
      update_time: t,
      fingerprint,
    };
    bills.set(key(mchid, bill.out_bill_no), bill);
    byPackage.set(bill.package_info, bill);
    state.log('transfer', mchid, bill.out_bill_no, amount);
    if (bill.openid.startsWith('FAIL_')) finish(bill, 'FAIL', bill.openid.slice(5) || 'TRANSFER_RISK');
    return { status: 200, body: createAnswer(bill) };
  }

  const createAnswer = (b: SandboxTransfer): Json => ({
    out_bill_no: b.out_bill_no,
    transfer_bill_no: b.transfer_bill_no,
    create_time: rfc3339Beijing(b.create_time),
    state: b.state,
    ...(b.fail_reason ? { fail_reason: b.fail_reason } : {}),
    ...(b.state === 'WAIT_USER_CONFIRM' ? { package_info: b.package_info } : {}),
  });

  function query(ctx: V3Ctx, m: string[], by: 'out' | 'id'): V3Result {
    const b = by === 'out' ? bills.get(key(ctx.rt.m.mchid, m[1])) : [...bills.values()].find((x) => x.transfer_bill_no === m[1]);
    if (!b || b.mchid !== ctx.rt.m.mchid) return err(404, 'NOT_FOUND', '记录不存在');
    return { status: 200, body: billJson(b) };
  }

  function cancel(ctx: V3Ctx, m: string[]): V3Result {
    const b = bills.get(key(ctx.rt.m.mchid, m[1]));
    if (!b) return err(404, 'NOT_FOUND', '记录不存在');
    if (b.state === 'CANCELING' || b.state === 'CANCELLED') return { status: 200, body: cancelAnswer(b) };
    if (b.state !== 'WAIT_USER_CONFIRM') return err(400, 'INVALID_REQUEST', '当前转账单状态不支持撤销');
    b.state = 'CANCELING';
    b.update_time = state.now();
    const answer = cancelAnswer(b);
    setTimeout(() => b.state === 'CANCELING' && finish(b, 'CANCELLED', 'MCH_CANCEL'), 20);
    return { status: 200, body: answer };
  }

  const cancelAnswer = (b: SandboxTransfer): Json => ({
    out_bill_no: b.out_bill_no,
    transfer_bill_no: b.transfer_bill_no,
    state: b.state,
    update_time: rfc3339Beijing(b.update_time),
  });

  const routes: V3Route[] = [
    { method: 'POST', re: new RegExp(`^${BILLS}$`), run: create },
    { method: 'GET', re: new RegExp(`^${BILLS}/out-bill-no/([^/]+)$`), run: (c, m) => query(c, m, 'out') },
    { method: 'GET', re: new RegExp(`^${BILLS}/transfer-bill-no/([^/]+)$`), run: (c, m) => query(c, m, 'id') },
    { method: 'POST', re: new RegExp(`^${BILLS}/out-bill-no/([^/]+)/cancel$`), run: cancel },
  ];

  /** the payee confirms in WeChat: the money moves (SUCCESS) */
  function confirm(packageInfo: string): SandboxTransfer {
    const b = byPackage.get(packageInfo);
    if (!b) throw Object.assign(new Error('no such package'), { status: 404 });
    if (b.state !== 'WAIT_USER_CONFIRM') throw Object.assign(new Error(`bill is ${b.state}`), { status: 409 });
    finish(b, 'SUCCESS');
    return b;
  }

  function page(b: SandboxTransfer | undefined, notice?: string): string {
    const body = b
      ? `<div class="amount" id="amount">¥${fenToYuan(b.transfer_amount)}</div><div id="remark">${escapeHtml(b.transfer_remark)}</div>
<div id="state">${b.state}</div>${b.state === 'WAIT_USER_CONFIRM' ? `<form method="post"><button id="confirm-btn" type="submit">确认收款</button></form>` : ''}`
      : '<div id="state">NOT_FOUND</div>';
    return `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>确认收款（沙箱）</title></head>
<body><h3>微信支付 · 商家转账确认收款（沙箱）</h3>${notice ? `<p id="notice">${escapeHtml(notice)}</p>` : ''}${body}</body></html>`;
  }

  /** payee-side routes (not part of WeChat's API) */
  function handlePayee(req: PeerRequest): PeerResponse | undefined {
    const u = new URL(req.url, 'http://sandbox.invalid');
    const html = (status: number, text: string): PeerResponse => ({
      status,
      headers: { 'Content-Type': 'text/html; charset=utf-8' },
      body: text,
    });
    if (u.pathname === '/transfer-confirm') {
      const pkg = u.searchParams.get('package') ?? '';
      if (req.method === 'GET') return html(200, page(byPackage.get(pkg)));
      try {
        return html(200, page(confirm(pkg), '已收款'));
      } catch (e) {
        return html((e as { status?: number }).status ?? 400, page(byPackage.get(pkg), (e as Error).message));
      }
    }
    if (u.pathname === '/sandbox/transfer/confirm' && req.method === 'POST') {
      let pkg = '';
      try {
        pkg = String(JSON.parse(req.body.toString('utf8')).package_info ?? '');
      } catch {
        /* empty */
      }
      try {
        const b = confirm(pkg);
        return { status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ state: b.state }) };
      } catch (e) {
        return {
          status: (e as { status?: number }).status ?? 400,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ message: (e as Error).message }),
        };
      }
    }
    return undefined;
  }

  return {
    routes,
    handlePayee,
    bill: (out_bill_no: string) => [...bills.values()].find((b) => b.out_bill_no === out_bill_no),
    bills: () => [...bills.values()],
    confirm,
    /** the payee is too late or the bill expires: FAIL (e.g. OVERDUE_CLOSE) */
    fail: (out_bill_no: string, reason = 'OVERDUE_CLOSE') => {
      const b = [...bills.values()].find((x) => x.out_bill_no === out_bill_no);
      if (b && b.state === 'WAIT_USER_CONFIRM') finish(b, 'FAIL', reason);
    },
  };
}

export type WxpayTransfers = ReturnType<typeof wxpayTransfers>;
