/**
 * WeChat Pay sandbox: v3 payment notifications (signature, AES-256-GCM resource, retries).
 */
import { Wechatpay } from 'wechatpay-axios-plugin';
import { createWxpayMerchant, startWxpaySandbox, type WxpaySandbox, type WxpaySandboxMerchant } from '../../tools/sandbox/wxpay';
import { decryptResource, startNotifyReceiver, verifyWechatpay } from '../../tools/sandbox/wxpay/testkit';

let m: WxpaySandboxMerchant;
let mig: WxpaySandboxMerchant;
let sandbox: WxpaySandbox;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(x: WxpaySandboxMerchant): any {
  return new Wechatpay({
    mchid: x.mchid,
    serial: x.merchant.serialHex,
    privateKey: x.merchant.keyPem,
    certs: { [x.platform.serialHex]: x.platform.certPem, [x.publicKeyId]: x.publicKey.publicKeyPem },
    baseURL: `${sandbox.url}/`,
  });
}

function order(x: WxpaySandboxMerchant, no: string, notify_url: string, total = 888) {
  return { appid: x.appids[0], mchid: x.mchid, description: '会员月卡', out_trade_no: no, notify_url, amount: { total, currency: 'CNY' } };
}

beforeAll(async () => {
  [m, mig] = await Promise.all([
    createWxpayMerchant({ mchid: '1900000201' }),
    createWxpayMerchant({ mchid: '1900000202', signMode: 'migrating' }),
  ]);
  sandbox = await startWxpaySandbox({ merchants: [m, mig], quiet: true, retryDelaysMs: [60, 60, 60] });
});

afterAll(async () => {
  await sandbox.close();
});

test('payment notification: signed headers, exact envelope, decryptable transaction', async () => {
  const rx = await startNotifyReceiver();
  try {
    await client(m).v3.pay.transactions.jsapi.post({
      ...order(m, 'NOTIFY_0001', `${rx.url}/pay-notify/wx`),
      attach: 'a=1',
      payer: { openid: 'oNotifyPayer01' },
    });
    expect(rx.received).toHaveLength(0);
    await sandbox.pay('NOTIFY_0001');
    await sandbox.waitForDelivery('NOTIFY_0001', (d) => d.acknowledged);
    expect(rx.received).toHaveLength(1);
    const n = rx.received[0];
    expect(n.method).toBe('POST');
    expect(n.url).toBe('/pay-notify/wx');
    expect(n.headers['content-type']).toMatch(/^application\/json/);
    expect(n.headers['wechatpay-serial']).toBe(m.platform.serialHex);
    expect(n.headers['wechatpay-signature-type']).toBe('WECHATPAY2-SHA256-RSA2048');
    expect(Math.abs(Number(n.headers['wechatpay-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    expect(verifyWechatpay(n.headers, n.body, m.platform.certPem)).toBe(true);
    expect(verifyWechatpay(n.headers, n.body + ' ', m.platform.certPem)).toBe(false);
    expect(verifyWechatpay(n.headers, n.body, m.publicKey.publicKeyPem)).toBe(false);

    const env = JSON.parse(n.body);
    expect(Object.keys(env).sort()).toEqual(['create_time', 'event_type', 'id', 'resource', 'resource_type', 'summary']);
    expect(env).toMatchObject({ event_type: 'TRANSACTION.SUCCESS', resource_type: 'encrypt-resource', summary: '支付成功' });
    expect(env.create_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(env.resource).toMatchObject({ original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction' });
    expect(env.resource.nonce).toHaveLength(12);
    const tx = JSON.parse(decryptResource(m.apiV3Key, env.resource));
    const stored = sandbox.order('NOTIFY_0001')!;
    expect(tx).toMatchObject({
      appid: m.appids[0],
      mchid: m.mchid,
      out_trade_no: 'NOTIFY_0001',
      transaction_id: stored.transaction_id,
      trade_type: 'JSAPI',
      trade_state: 'SUCCESS',
      attach: 'a=1',
      payer: { openid: 'oNotifyPayer01' },
      amount: { total: 888, payer_total: 888, currency: 'CNY', payer_currency: 'CNY' },
    });
    // success_time is Beijing wall clock of the payment instant, whatever the host TZ
    expect(Date.parse(tx.success_time)).toBe(Math.floor(stored.success_time! / 1000) * 1000);
    const bj = new Date(stored.success_time! + 8 * 3600_000).toISOString().slice(0, 19);
    expect(tx.success_time).toBe(`${bj}+08:00`);
    // wrong AAD or key must not decrypt
    expect(() => decryptResource(m.apiV3Key, { ...env.resource, associated_data: 'certificate' })).toThrow();
    expect(() => decryptResource(mig.apiV3Key, env.resource)).toThrow();
    await sleep(150);
    expect(rx.received).toHaveLength(1); // acknowledged: no retry
    expect(sandbox.deliveries.filter((d) => d.out_trade_no === 'NOTIFY_0001')).toEqual([
      expect.objectContaining({ attempt: 1, status: 204, acknowledged: true, protocol: 'v3' }),
    ]);
  } finally {
    await rx.close();
  }
});

test('retries when the merchant answers 500, stops after the 200 acknowledgement', async () => {
  const rx = await startNotifyReceiver((_n, i) =>
    i === 0 ? { status: 500, body: '{"code":"FAIL","message":"失败"}' } : { status: 200, body: '' },
  );
  try {
    await client(m).v3.pay.transactions.native.post(order(m, 'RETRY_0001', `${rx.url}/n`));
    await sandbox.pay('RETRY_0001');
    await sandbox.waitForDelivery('RETRY_0001', (d) => d.acknowledged, 5000);
    await sleep(200);
    const log = sandbox.deliveries.filter((d) => d.out_trade_no === 'RETRY_0001');
    expect(log.map((d) => [d.attempt, d.status, d.acknowledged])).toEqual([
      [1, 500, false],
      [2, 200, true],
    ]);
    expect(log[1].at - log[0].at).toBeGreaterThanOrEqual(50);
    expect(rx.received).toHaveLength(2);
    // the same notification (same id and resource) is re-sent, freshly signed
    expect(JSON.parse(rx.received[1].body).id).toBe(JSON.parse(rx.received[0].body).id);
    expect(verifyWechatpay(rx.received[1].headers, rx.received[1].body, m.platform.certPem)).toBe(true);
  } finally {
    await rx.close();
  }
});

test('gives up when the schedule ends; unreachable notify_url is logged as error', async () => {
  const rx = await startNotifyReceiver(() => ({ status: 503 }));
  try {
    await client(m).v3.pay.transactions.native.post(order(m, 'GIVEUP_001', `${rx.url}/n`));
    await sandbox.pay('GIVEUP_001');
    await sandbox.waitForDelivery('GIVEUP_001', (d) => d.attempt === 4, 5000);
    await sleep(200);
    expect(sandbox.deliveries.filter((d) => d.out_trade_no === 'GIVEUP_001').map((d) => d.status)).toEqual([503, 503, 503, 503]);
  } finally {
    await rx.close();
  }
  await client(m).v3.pay.transactions.native.post(order(m, 'REFUSED_01', 'http://127.0.0.1:9/closed-port'));
  await sandbox.pay('REFUSED_01');
  await sandbox.waitForDelivery('REFUSED_01');
  expect(sandbox.deliveries.find((d) => d.out_trade_no === 'REFUSED_01')?.status).toBe('error');
  await expect(sandbox.waitForDelivery('NEVER_PAID', undefined, 50)).rejects.toThrow(/timed out/);
});

test('pay() is concurrency-safe and /sandbox/pay works for scripts', async () => {
  const rx = await startNotifyReceiver();
  try {
    await client(m).v3.pay.transactions.app.post(order(m, 'CONCUR_001', `${rx.url}/n`));
    const results = await Promise.allSettled([sandbox.pay('CONCUR_001'), sandbox.pay('CONCUR_001'), sandbox.pay('CONCUR_001')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([
      expect.stringContaining('ORDERPAID'),
      expect.stringContaining('ORDERPAID'),
    ]);
    await sandbox.waitForDelivery('CONCUR_001', (d) => d.acknowledged);
    await sleep(100);
    expect(rx.received).toHaveLength(1);

    await client(m).v3.pay.transactions.app.post(order(m, 'SCRIPT_001', `${rx.url}/n`));
    const r = await fetch(`${sandbox.url}/sandbox/pay`, {
      method: 'POST',
      body: JSON.stringify({ mchid: m.mchid, out_trade_no: 'SCRIPT_001', openid: 'oScript' }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ out_trade_no: 'SCRIPT_001', trade_state: 'SUCCESS' });
    expect(sandbox.order('SCRIPT_001')?.openid).toBe('oScript');
    const again = await fetch(`${sandbox.url}/sandbox/pay`, { method: 'POST', body: JSON.stringify({ out_trade_no: 'SCRIPT_001' }) });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { code: string }).code).toBe('ORDERPAID');
    await sandbox.waitForDelivery('SCRIPT_001');
  } finally {
    await rx.close();
  }
});

test('migrating mode: notifications alternate between platform certificate and public key', async () => {
  const rx = await startNotifyReceiver();
  try {
    for (const no of ['MIGRATE_01', 'MIGRATE_02']) {
      await client(mig).v3.pay.transactions.native.post(order(mig, no, `${rx.url}/n`));
      await sandbox.pay(no);
      await sandbox.waitForDelivery(no);
    }
    const serials = rx.received.map((n) => n.headers['wechatpay-serial']).sort();
    expect(serials).toEqual([mig.platform.serialHex, mig.publicKeyId].sort());
    for (const n of rx.received) {
      const key = n.headers['wechatpay-serial'] === mig.publicKeyId ? mig.publicKey.publicKeyPem : mig.platform.certPem;
      expect(verifyWechatpay(n.headers, n.body, key)).toBe(true);
    }
  } finally {
    await rx.close();
  }
});

test('signNotification / buildPaymentNotification produce verifiable and tamperable notifications', () => {
  const tx = {
    appid: m.appids[0],
    mchid: m.mchid,
    out_trade_no: 'BUILT_0001',
    transaction_id: '4200000000202601010000000001',
    trade_state: 'SUCCESS',
    amount: { total: 1 },
  };
  const { body, headers } = sandbox.buildPaymentNotification(m.mchid, tx);
  expect(verifyWechatpay(headers, body, m.platform.certPem)).toBe(true);
  expect(JSON.parse(decryptResource(m.apiV3Key, JSON.parse(body).resource))).toEqual(tx);

  const h2 = sandbox.signNotification(m.mchid, body, { timestamp: 1700000000, nonce: 'fixednonce' });
  expect(h2['Wechatpay-Timestamp']).toBe('1700000000');
  expect(h2['Wechatpay-Nonce']).toBe('fixednonce');
  expect(verifyWechatpay(h2, body, m.platform.certPem)).toBe(true);
  const probe = sandbox.signNotification(m.mchid, body, { signature: 'WECHATPAY/SIGNTEST/' + 'A'.repeat(40) });
  expect(probe['Wechatpay-Signature']).toMatch(/^WECHATPAY\/SIGNTEST\//);
  expect(verifyWechatpay(probe, body, m.platform.certPem)).toBe(false);
  const pk = sandbox.signNotification(mig.mchid, body, { serial: mig.publicKeyId });
  expect(pk['Wechatpay-Serial']).toBe(mig.publicKeyId);
  expect(verifyWechatpay(pk, body, mig.publicKey.publicKeyPem)).toBe(true);
  const unknownSerial = sandbox.signNotification(m.mchid, body, { serial: 'ABCDEF' });
  expect(unknownSerial['Wechatpay-Serial']).toBe('ABCDEF');
});

test('close() clears pending retry timers', async () => {
  const x = await startWxpaySandbox({ merchants: [m], quiet: true, retryDelaysMs: [60_000] });
  const rx = await startNotifyReceiver(() => ({ status: 500 }));
  try {
    const wx = new Wechatpay({
      mchid: m.mchid,
      serial: m.merchant.serialHex,
      privateKey: m.merchant.keyPem,
      certs: { [m.platform.serialHex]: m.platform.certPem },
      baseURL: `${x.url}/`,
    }) as any;
    await wx.v3.pay.transactions.native.post(order(m, 'TIMER_0001', `${rx.url}/n`));
    await x.pay('TIMER_0001');
    await x.waitForDelivery('TIMER_0001');
    const pending = x.waitForDelivery('TIMER_0001', (d) => d.attempt === 2, 120_000);
    const t0 = Date.now();
    await x.close();
    await expect(pending).rejects.toThrow(/closed/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(x.deliveries).toHaveLength(1);
  } finally {
    await rx.close();
  }
});
