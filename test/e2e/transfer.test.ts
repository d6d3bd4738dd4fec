/**
 * Transfers end to end through the runtime's HTTP server: the built common module called by a
 * business cloud object (never by a client), the WeChat Pay sandbox's merchant transfer (payee
 * confirmation, MCHTRANSFER.BILL.FINISHED to vk-pay's transferNotify route, pay-notify/transfer.js)
 * and Alipay's synchronous fund transfer. The sandbox runs in "migrating" mode: notifications come
 * signed by the platform certificate and by the WeChat Pay public key in turn.
 */
import { randomBytes } from 'node:crypto';
import { aesGcmEncrypt } from '../../tools/sandbox/wxpay';
import { CLIENT, startTestStack, until, type TestStack } from '../helpers/project';

let s: TestStack;
beforeAll(async () => {
  s = await startTestStack({ wxSignMode: 'migrating' });
}, 60_000);
afterAll(() => s?.close());

let seq = 0;
const billNo = (p = 'E') => `${p}${Date.now().toString(36)}${(seq++).toString(36)}${randomBytes(3).toString('hex')}`.slice(0, 32);
const shop = async (method: string, params: Record<string, unknown>) => (await s.call('test-shop', method, [params])).result;
const viaVkPay = async (method: string, params: Record<string, unknown>) =>
  (await s.call('test-shop', 'viaVkPay', [method, params])).result;
const ledger = async (no: string) => (await s.findDocs('vk-pay-transfers', { out_bill_no: no }))[0];
const wxParams = (no: string, over: Record<string, unknown> = {}) => ({
  provider: 'wxpay',
  out_bill_no: no,
  transfer_amount: 300,
  transfer_remark: '余额提现',
  openid: 'o-e2e-payee',
  transfer_scene_id: '1000',
  transfer_scene_report_infos: [
    { info_type: '活动名称', info_content: '提现' },
    { info_type: '奖励说明', info_content: '余额提现' },
  ],
  ...over,
});

async function confirm(no: string): Promise<void> {
  const res = await fetch(`${s.wxpay.url}/sandbox/transfer/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ package_info: s.wxpay.transfers.bill(no)!.package_info }),
  });
  expect(res.status).toBe(200);
}

/** A MCHTRANSFER.BILL.FINISHED notification as WeChat would send it (tests tamper with it). */
function transferNotification(no: string, plain: Record<string, unknown>, sign: { timestamp?: number; signature?: string } = {}) {
  const resource = aesGcmEncrypt(s.wxMerchant.apiV3Key, JSON.stringify(plain), '');
  const body = JSON.stringify({
    id: `EV-${randomBytes(8).toString('hex')}`,
    create_time: '2026-12-01T12:00:00+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'MCHTRANSFER.BILL.FINISHED',
    summary: '商家转账单据终态通知',
    resource: { original_type: 'mch_payment', ...resource },
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.wxpay.signNotification(s.wxMerchant.mchid, body, sign))) headers[k.toLowerCase()] = v;
  return { body, headers };
}

const post = async (no: string, n: { body: string; headers: Record<string, string> }) => {
  const res = await fetch(`${s.url}/http/vk-pay/transferNotify/wxpay/${no}`, { method: 'POST', headers: n.headers, body: n.body });
  return { status: res.status, text: await res.text() };
};

test('withdrawal: transfer waits for the payee, the payee confirms, the notification settles it and the handler runs once', async () => {
  const no = billNo();
  const r = await shop('transfer', wxParams(no));
  expect(r).toMatchObject({ code: 0, state: 'WAIT_USER_CONFIRM', out_bill_no: no });
  expect(r.options).toMatchObject({ mchId: s.wxMerchant.mchid, package: expect.any(String) });
  expect(r.result.package_info).toBe(r.options.package);
  expect(s.wxpay.transfers.bill(no)!.notify_url).toBe(`${s.url}/http/vk-pay/transferNotify/wxpay/${no}`);
  await confirm(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged, 15_000);
  expect(await ledger(no)).toMatchObject({
    state: 'SUCCESS',
    handler_success: true,
    transfer_bill_no: s.wxpay.transfers.bill(no)!.transfer_bill_no,
  });
  const calls = await s.handlerCalls(no);
  expect(calls).toEqual([expect.objectContaining({ type: 'transfer', state: 'SUCCESS', transfer_amount: 300, openid: 'o-e2e-payee' })]);
  // a duplicate of the genuine notification: acknowledged, nothing more runs
  const dup = transferNotification(no, { ...s.wxpay.transfers.bill(no)!, mch_id: s.wxMerchant.mchid, state: 'SUCCESS' });
  expect((await post(no, dup)).status).toBe(200);
  expect(await s.handlerCalls(no)).toHaveLength(1);
  expect(await shop('queryTransfer', { provider: 'wxpay', out_bill_no: no })).toMatchObject({ code: 0, state: 'SUCCESS' });
});

test('transfer, queryTransfer and cancelTransfer are server-only: a client gets 5001', async () => {
  for (const method of ['transfer', 'queryTransfer', 'cancelTransfer']) {
    for (const client of [CLIENT.mp, CLIENT.web]) {
      const r = await s.call('vk-pay', method, [wxParams(billNo('C'))], client);
      expect(r).toMatchObject({ errCode: 5001 });
    }
  }
  expect(s.wxpay.transfers.bills().filter((b) => b.out_bill_no.startsWith('C'))).toHaveLength(0);
});

test('forged, tampered and replayed notifications are refused and nothing is written', async () => {
  const no = billNo('H');
  await shop('transfer', wxParams(no));
  const bill = s.wxpay.transfers.bill(no)!;
  const plain = {
    mch_id: s.wxMerchant.mchid,
    out_bill_no: no,
    transfer_bill_no: bill.transfer_bill_no,
    state: 'SUCCESS',
    transfer_amount: 300,
    openid: 'o-e2e-payee',
    create_time: '2026-12-01T12:00:00+08:00',
    update_time: '2026-12-01T12:00:01+08:00',
  };
  const genuine = transferNotification(no, plain);
  const attempts = [
    // forged signature
    { ...genuine, headers: { ...genuine.headers, 'wechatpay-signature': randomBytes(256).toString('base64') } },
    // tampered body (signature over the original bytes)
    { ...genuine, body: genuine.body.replace('"summary":"', '"summary":"x') },
    // replayed outside the 5-minute window
    transferNotification(no, plain, { timestamp: Math.floor(Date.now() / 1000) - 600 }),
    // genuine signature, wrong amount
    transferNotification(no, { ...plain, transfer_amount: 30000 }),
    // WeChat's signature probe
    { ...genuine, headers: { ...genuine.headers, 'wechatpay-signature': 'WECHATPAY/SIGNTEST/abc' } },
  ];
  for (const n of attempts) {
    const res = await post(no, n);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'FAIL' });
  }
  expect(await ledger(no)).toMatchObject({ state: 'WAIT_USER_CONFIRM' });
  expect((await ledger(no)).handler_attempts).toBeUndefined();
  expect(await s.handlerCalls(no)).toHaveLength(0);
  // an unknown bill number is refused too
  expect((await post('NOSUCHBILL1', transferNotification('NOSUCHBILL1', { ...plain, out_bill_no: 'NOSUCHBILL1' }))).status).toBe(500);
});

test('a failing handler is retried by WeChat until it succeeds once', async () => {
  const no = billNo('F');
  await shop('transfer', wxParams(no, { transfer_remark: 'flaky 提现' }));
  await confirm(no);
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged, 20_000);
  const attempts = s.wxpay.deliveries.filter((d) => d.out_trade_no === no);
  expect(attempts[0]).toMatchObject({ acknowledged: false });
  expect(await s.handlerCalls(no)).toHaveLength(2);
  expect(await ledger(no)).toMatchObject({ state: 'SUCCESS', handler_success: true, handler_attempts: 2 });
});

test('cancel before confirmation: CANCELLED by the notification, handler once; a retry with the same number stays cancelled', async () => {
  const no = billNo('K');
  await shop('transfer', wxParams(no));
  expect(await shop('cancelTransfer', { provider: 'wxpay', out_bill_no: no })).toMatchObject({ code: 0, state: 'CANCELING' });
  await s.wxpay.waitForDelivery(no, (d) => d.acknowledged, 15_000);
  expect(await ledger(no)).toMatchObject({ state: 'CANCELLED', handler_success: true, fail_reason: 'MCH_CANCEL' });
  expect(await s.handlerCalls(no)).toEqual([expect.objectContaining({ state: 'CANCELLED' })]);
  expect(await shop('transfer', wxParams(no))).toMatchObject({ code: 0, state: 'CANCELLED' });
  expect(s.wxpay.transfers.bills().filter((b) => b.out_bill_no === no)).toHaveLength(1);
});

test('alipay: paid at once; the handler runs in vk-pay (a query through vk-pay), once', async () => {
  const no = billNo('A');
  const params = {
    provider: 'alipay',
    out_bill_no: no,
    transfer_amount: 1234,
    transfer_remark: '佣金',
    payee_info: { identity: 'payee@example.com', identity_type: 'ALIPAY_LOGON_ID', name: '李四' },
  };
  expect(await shop('transfer', params)).toMatchObject({ code: 0, state: 'SUCCESS', transfer_amount: 1234 });
  expect(s.alipay.transfers.transfer(no)).toMatchObject({ fen: 1234 });
  // the common module in a business function has no pay-notify folder: vk-pay finishes the handler
  expect(await ledger(no)).toMatchObject({ state: 'SUCCESS' });
  expect(await s.handlerCalls(no)).toHaveLength(0);
  expect(await viaVkPay('queryTransfer', { provider: 'alipay', out_bill_no: no })).toMatchObject({ errCode: 0, state: 'SUCCESS' });
  await until(async () => (await s.handlerCalls(no)).length === 1);
  expect(await viaVkPay('queryTransfer', { provider: 'alipay', out_bill_no: no })).toMatchObject({ errCode: 0, state: 'SUCCESS' });
  expect(await s.handlerCalls(no)).toHaveLength(1);
  expect(await ledger(no)).toMatchObject({ handler_success: true });
});

test('vk-uni-pay verifyTransferNotify checks a notification without writing anything', async () => {
  const no = billNo('V');
  await shop('transfer', wxParams(no));
  const plain = { mch_id: s.wxMerchant.mchid, out_bill_no: no, state: 'FAIL', fail_reason: 'OVERDUE_CLOSE', transfer_amount: 300 };
  const n = transferNotification(no, plain);
  const ok = await shop('verifyTransferNotify', { provider: 'wxpay', headers: n.headers, body: n.body });
  expect(ok).toMatchObject({ code: 0, data: { out_bill_no: no, state: 'FAIL', fail_reason: 'OVERDUE_CLOSE' } });
  const bad = await shop('verifyTransferNotify', {
    provider: 'wxpay',
    headers: n.headers,
    body: n.body.replace('mch_payment', 'mch_paymenT'),
  });
  expect(bad.code).toBe(4001);
  expect(await ledger(no)).toMatchObject({ state: 'WAIT_USER_CONFIRM' });
});
