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
const PROVIDERS = ['wxpay', 'alipay', 'vkspay', 'wxpay-virtual', 'appleiap'];

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
    return { errCode: 0, ...CATALOGUE };
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
    const orders = (
      await db.collection('vk-pay-orders').where({ user_id: params.user_id }).orderBy('create_date', 'desc').limit(20).get()
    ).data.map((o) => ({
      out_trade_no: o.out_trade_no,
      total_fee: o.total_fee,
      status: o.status,
      pay_type: o.pay_type,
      user_order_success: o.user_order_success,
      description: o.description,
    }));
    return { errCode: 0, balance: account ? account.balance : 0, goods: account ? account.goods || [] : [], orders };
  },
};
