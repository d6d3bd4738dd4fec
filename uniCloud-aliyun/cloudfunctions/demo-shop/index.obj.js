// Demo business cloud object. The client chooses WHAT to buy; the price always comes from the
// catalogue below (server code), never from the client. Copy this pattern into your own project.
const vkPay = require('vk-uni-pay');

const CATALOGUE = {
  recharge: [
    { id: 'r1', title: '充值 0.01 元', total_fee: 1, balance: 1 },
    { id: 'r100', title: '充值 1 元', total_fee: 100, balance: 100 },
    { id: 'r600', title: '充值 6 元（送 0.6 元）', total_fee: 600, balance: 660 },
  ],
  goods: [
    { id: 'g1', title: '会员月卡', total_fee: 990 },
    { id: 'g2', title: '电子书《支付对账实务》', total_fee: 1999 },
  ],
  // App Store products: the price must equal appleiap.products in uni-pay/config.js
  apple: [
    { id: 'coins_600', title: '600 金币', total_fee: 600, balance: 600 },
    { id: 'vip_month', title: '会员月卡（内购）', total_fee: 1800, balance: 0 },
  ],
};

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const OUT_TRADE_NO = /^[A-Za-z0-9_-]{1,64}$/;
const PROVIDERS = ['wxpay', 'alipay', 'vkspay', 'wxpay-virtual', 'appleiap', 'douyin'];

/**
 * Order validity (time_expire) the payer may choose, per kind of payment. Providers refuse an
 * expiry too close to now: WeChat Pay Native (QR) at least 1 minute, other WeChat Pay scenes
 * (H5, JSAPI, App) 5 minutes, Alipay 1 second. The demo only offers values above the minimum with
 * a margin (the order must still be valid when the provider receives it), and refuses others with
 * words a payer understands.
 */
const EXPIRY = {
  wxpay_qr: { min: 60, label: '微信扫码支付' },
  wxpay_h5: { min: 300, label: '微信 H5 支付' },
  alipay: { min: 1, label: '支付宝支付' },
};
const EXPIRY_CHOICES = [120, 600, 1800];
const expiryKind = (p) => (p.provider === 'alipay' ? 'alipay' : p.isPC === true || p.needQRcode ? 'wxpay_qr' : 'wxpay_h5');
/** shortest accepted validity in seconds: the provider's minimum plus half of it (at least 2 s) */
const expiryFloor = (kind) => EXPIRY[kind].min + Math.max(2, EXPIRY[kind].min / 2);
const expiryChoices = () => Object.fromEntries(Object.keys(EXPIRY).map((k) => [k, EXPIRY_CHOICES.filter((s) => s >= expiryFloor(k))]));

function fail(errCode, errMsg) {
  return { errCode, errMsg, errSubject: 'demo-shop' };
}

/** R + Beijing time yyyyMMddHHmmss + 8 random digits (23 chars, unique enough for a demo) */
function newOutTradeNo(prefix) {
  const t = new Date(Date.now() + 8 * 3600 * 1000).toISOString().replace(/\D/g, '').slice(0, 14);
  const rnd = String(Math.floor(Math.random() * 1e8)).padStart(8, '0');
  return `${prefix}${t}${rnd}`;
}

async function pay(ctx, params, { item, type, custom, productid }) {
  if (!item) return fail('DEMO_ITEM_NOT_FOUND', '商品不存在 / unknown item');
  if (!USER_ID.test(String(params.user_id || ''))) return fail('DEMO_USER_INVALID', 'user_id 无效 / invalid user_id');
  if (!PROVIDERS.includes(params.provider)) return fail('DEMO_PROVIDER_INVALID', 'provider 无效 / invalid provider');
  const seconds = Number(params.time_expire_seconds);
  if (seconds > 0 && (params.provider === 'wxpay' || params.provider === 'alipay')) {
    const kind = expiryKind(params);
    if (seconds < expiryFloor(kind)) {
      const min = EXPIRY[kind].min;
      const words = min >= 60 ? `${min / 60} 分钟` : `${min} 秒`;
      return fail('DEMO_EXPIRE_TOO_SHORT', `订单有效期太短：${EXPIRY[kind].label}要求至少 ${words}（还需留出余量），请选择更长的有效期`);
    }
  }
  const res = await vkPay.createPayment({
    context: ctx.getClientInfo(),
    provider: params.provider,
    isPC: params.isPC === true,
    needQRcode: params.needQRcode === 'image' ? 'image' : params.needQRcode === true,
    data: {
      out_trade_no: newOutTradeNo(type === 'recharge' ? 'R' : 'G'),
      total_fee: item.total_fee,
      subject: item.title,
      type,
      user_id: params.user_id,
      openid: typeof params.openid === 'string' ? params.openid : undefined,
      custom,
      ...(productid ? { productid } : {}),
      ...(seconds > 0 ? { time_expire: Date.now() + seconds * 1000 } : {}),
    },
  });
  const { code, msg, msg_en: _msgEn, ...rest } = res;
  return { errCode: code, errMsg: msg, ...rest };
}

module.exports = {
  getCatalogue() {
    return { errCode: 0, ...CATALOGUE, expiry: expiryChoices() };
  },

  async createRechargeOrder(params = {}) {
    const item = CATALOGUE.recharge.find((i) => i.id === params.item_id);
    return pay(this, params, { item, type: 'recharge', custom: item ? { recharge_balance: item.balance, item_id: item.id } : {} });
  },

  async createGoodsOrder(params = {}) {
    const item = CATALOGUE.goods.find((i) => i.id === params.goods_id);
    return pay(this, params, { item, type: 'goods', custom: item ? { goods_id: item.id } : {} });
  },

  /** Apple in-app purchase: the client names the App Store product; its price comes from here. */
  async createAppleOrder(params = {}) {
    const item = CATALOGUE.apple.find((i) => i.id === params.productid);
    // coins are a recharge, a membership is goods
    const recharge = !!item && item.balance > 0;
    return pay(
      this,
      { ...params, provider: 'appleiap' },
      {
        item,
        type: recharge ? 'recharge' : 'goods',
        custom: !item ? {} : recharge ? { recharge_balance: item.balance, item_id: item.id } : { goods_id: item.id },
        productid: item && item.id,
      },
    );
  },

  async getAccount(params = {}) {
    if (!USER_ID.test(String(params.user_id || ''))) return fail('DEMO_USER_INVALID', 'user_id 无效 / invalid user_id');
    const db = uniCloud.database();
    const account = (await db.collection('demo-accounts').doc(params.user_id).get()).data[0];
    const orders = (await ordersWhere({ user_id: params.user_id }, 20)).map(publicOrder);
    return { errCode: 0, balance: account ? account.balance : 0, goods: account ? account.goods || [] : [], orders };
  },

  /**
   * One order of this user, as the server knows it (the result page shows only this). An unpaid
   * order is first checked with the provider, so a payment that just arrived is reported.
   */
  async getOrder(params = {}) {
    const order = await ownOrder(params);
    if (order.errCode) return order;
    if (order.status === 0) {
      await vkPay.queryPayment({ out_trade_no: order.out_trade_no });
      const now = await ownOrder(params);
      return { errCode: 0, order: publicOrder(now.errCode ? order : now) };
    }
    return { errCode: 0, order: publicOrder(order) };
  },

  /** The payer gave up: close the order at the provider (server side) so the old QR can no longer pay. */
  async cancelOrder(params = {}) {
    const order = await ownOrder(params);
    if (order.errCode) return order;
    if (order.status === 0) {
      const res = await vkPay.closeOrder({ out_trade_no: order.out_trade_no });
      // paid in between, or the provider will only close later: the status below tells the truth
      if (res.code !== 0) console.log('demo-shop.cancelOrder', order.out_trade_no, res.code);
    }
    const now = await ownOrder(params);
    return { errCode: 0, order: publicOrder(now.errCode ? order : now) };
  },

  // ------------------------------------------------------------ withdrawal (WeChat merchant transfer)

  /**
   * A withdrawal of a fixed 1.00 yuan to the demo user's WeChat change (the server decides amount
   * and payee; a real shop would debit the balance in the same step). The answer's `options` are
   * for uni.requestMerchantTransfer / WeixinJSBridge; against the sandbox, `sandboxConfirmUrl` is
   * the page where the payee "confirms" in place of WeChat.
   */
  async withdraw(params = {}) {
    if (!USER_ID.test(String(params.user_id || ''))) return fail('DEMO_USER_INVALID', 'user_id 无效 / invalid user_id');
    const res = await vkPay.transfer({
      provider: 'wxpay',
      out_bill_no: newOutTradeNo('W'),
      transfer_amount: 100,
      transfer_remark: '演示提现',
      openid: `o-demo-${params.user_id}`.slice(0, 64),
      transfer_scene_id: '1000',
      transfer_scene_report_infos: [
        { info_type: '活动名称', info_content: 'vk-uni-pay 演示' },
        { info_type: '奖励说明', info_content: '演示提现' },
      ],
    });
    if (res.code !== 0) return fail(res.code, res.msg);
    return {
      errCode: 0,
      out_bill_no: res.out_bill_no,
      state: res.state,
      options: res.options,
      sandboxConfirmUrl: sandboxConfirmUrl(res.options),
    };
  },

  /** The withdrawal's state, as the provider settled it (queryTransfer). */
  async withdrawStatus(params = {}) {
    if (!/^W\d{22}$/.test(String(params.out_bill_no || ''))) return fail('DEMO_BILL_INVALID', 'out_bill_no 无效');
    const res = await vkPay.queryTransfer({ provider: 'wxpay', out_bill_no: params.out_bill_no });
    if (res.code !== 0) return fail(res.code, res.msg);
    return { errCode: 0, out_bill_no: res.out_bill_no, state: res.state, transfer_amount: res.transfer_amount };
  },

  // ------------------------------------------------------------ merchant view (admin role only)

  /** Orders with what a merchant needs when a payer calls: status, amount, provider, handler, refunds. */
  async adminListOrders(params = {}) {
    if (!isAdmin(params)) return fail('DEMO_NOT_ADMIN', '需要管理员权限 / admin role required');
    const q = {};
    if (typeof params.out_trade_no === 'string' && OUT_TRADE_NO.test(params.out_trade_no)) q.out_trade_no = params.out_trade_no;
    if (typeof params.user_id === 'string' && USER_ID.test(params.user_id)) q.user_id = params.user_id;
    const orders = (await ordersWhere(q, 50)).map((o) => ({
      ...publicOrder(o),
      user_id: o.user_id,
      transaction_id: o.transaction_id,
      pay_date: o.pay_date,
      handler_attempts: o.handler_attempts || 0,
      handler_error: o.handler_error,
      refund_fee: o.refund_fee || 0,
      refunds: (o.refund_list || []).map((r) => ({
        out_refund_no: r.out_refund_no,
        refund_fee: r.refund_fee,
        state: r.state,
        refund_date: r.refund_date,
      })),
    }));
    return { errCode: 0, orders };
  },

  /** Refund through the common module, server side (never callable without the admin role). */
  async adminRefund(params = {}) {
    if (!isAdmin(params)) return fail('DEMO_NOT_ADMIN', '需要管理员权限 / admin role required');
    if (!OUT_TRADE_NO.test(String(params.out_trade_no || ''))) return fail('DEMO_ORDER_NOT_FOUND', '订单不存在 / order not found');
    const fee = params.refund_fee === undefined ? undefined : Number(params.refund_fee);
    const res = await vkPay.refund({ out_trade_no: params.out_trade_no, refund_fee: fee, refund_desc: '商户后台退款' });
    const { code, msg, msg_en: _msgEn, ...rest } = res;
    return { errCode: code, errMsg: msg, ...rest };
  },

  async adminClose(params = {}) {
    if (!isAdmin(params)) return fail('DEMO_NOT_ADMIN', '需要管理员权限 / admin role required');
    if (!OUT_TRADE_NO.test(String(params.out_trade_no || ''))) return fail('DEMO_ORDER_NOT_FOUND', '订单不存在 / order not found');
    const res = await vkPay.closeOrder({ out_trade_no: params.out_trade_no });
    const { code, msg, msg_en: _msgEn, ...rest } = res;
    return { errCode: code, errMsg: msg, ...rest };
  },
};

/** The loopback sandbox's confirm page for a waiting transfer; undefined against the real WeChat Pay. */
function sandboxConfirmUrl(options) {
  if (!options || !options.package) return undefined;
  const config = require('uni-config-center')({ pluginId: 'uni-pay' }).requireFile('config.js');
  const gateway = String((config && config.wxpay && config.wxpay.transfer && config.wxpay.transfer.gateway) || '');
  if (!/^http:\/\/127\.0\.0\.1:\d+\/?$/.test(gateway)) return undefined;
  return `${gateway.replace(/\/$/, '')}/transfer-confirm?package=${encodeURIComponent(options.package)}`;
}

async function ordersWhere(where, limit) {
  const db = uniCloud.database();
  return (await db.collection('vk-pay-orders').where(where).orderBy('create_date', 'desc').limit(limit).get()).data;
}

/** The order of `params.out_trade_no` if it belongs to `params.user_id`, else a coded error. */
async function ownOrder(params) {
  if (!USER_ID.test(String(params.user_id || ''))) return fail('DEMO_USER_INVALID', 'user_id 无效 / invalid user_id');
  if (!OUT_TRADE_NO.test(String(params.out_trade_no || ''))) return fail('DEMO_ORDER_NOT_FOUND', '订单不存在 / order not found');
  const [order] = await ordersWhere({ out_trade_no: params.out_trade_no, user_id: params.user_id }, 1);
  return order || fail('DEMO_ORDER_NOT_FOUND', '订单不存在 / order not found');
}

/** What a payer may see of an order. */
function publicOrder(o) {
  return {
    out_trade_no: o.out_trade_no,
    total_fee: o.total_fee,
    status: o.status,
    provider: o.provider,
    pay_type: o.pay_type,
    user_order_success: o.user_order_success,
    description: o.description,
    create_date: o.create_date,
    time_expire: o.time_expire,
  };
}

/**
 * The admin role, decided here on the server: the caller must present the admin key configured in
 * uni-config-center/demo-shop/config.json (`adminKey`, at least 16 characters). No key configured:
 * no admin at all.
 */
function isAdmin(params) {
  const key = require('uni-config-center')({ pluginId: 'demo-shop' }).config('adminKey');
  if (typeof key !== 'string' || key.length < 16 || typeof params.admin_key !== 'string') return false;
  const [a, b] = [Buffer.from(params.admin_key), Buffer.from(key)];
  return a.length === b.length && require('crypto').timingSafeEqual(a, b);
}
