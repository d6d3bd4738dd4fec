/**
 * Every error a user can meet: a stable code (vk-uni-pay's numbers where it has one), a message
 * in zh-Hans and en that says what to do. The common module returns `{code, msg}`; the cloud
 * object maps it to uniCloud's `{errCode, errMsg, errSubject}` in the caller's locale.
 * `{name}` placeholders are filled from PayError vars; never put a secret in vars.
 */
import { PROVIDERS } from './catalog';

export const ERRORS = {
  // ---- configuration (1xx)
  NOTIFY_URL_MISSING: [
    101,
    '请先配置正确的异步回调URL：uni-pay/config.js 的 notifyUrl 中缺少当前服务空间 {spaceId}',
    'Configure notifyUrl in uni-pay/config.js for the current space {spaceId}',
  ],
  CONFIG_MISSING: [
    102,
    '未找到支付配置：uni-config-center/uni-pay/config.js 不存在或为空',
    'Payment config not found: uni-config-center/uni-pay/config.js is missing or empty',
  ],
  CONFIG_NODE_MISSING: [
    103,
    '支付配置缺少节点 {node}，请在配置中补充该节点',
    'The payment config has no node {node}; add it to the config',
  ],
  CONFIG_FIELD_MISSING: [104, '支付配置 {node} 缺少必填项 {field}', 'The payment config node {node} lacks the required field {field}'],
  MERCHANT_NOT_FOUND: [
    105,
    '未找到商户配置 pid={pid}（vk-pay-config 表中不存在该 _id）',
    'No merchant config with pid={pid} in the vk-pay-config collection',
  ],
  CONFIG_KEY_INVALID: [
    106,
    '支付配置 {node} 的 {field} 无法解析，请检查证书或密钥内容',
    'The {field} of config node {node} cannot be parsed; check the certificate or key',
  ],
  VK_CONFIG_UNSUPPORTED: [
    110,
    'vk-uni-pay 配置项 {key} 在本插件中的用法不同：{fix}',
    'The vk-uni-pay config key {key} works differently in this plugin: {fix}',
  ],
  TIMER_CONFIG_INVALID: [
    120,
    '定时对账配置 {field} 无效：应为 {reason}（uni-pay/config.js）',
    'The reconciliation timer setting {field} is invalid: expected {reason} (uni-pay/config.js)',
  ],

  // ---- createPayment input (10xx)
  // the choices are the catalog's rows
  PROVIDER_INVALID: [
    1001,
    `provider 无效，可选值：${PROVIDERS.join('、')}`,
    `Invalid provider; use ${PROVIDERS.slice(0, -1).join(', ')} or ${PROVIDERS[PROVIDERS.length - 1]}`,
  ],
  TYPE_REQUIRED: [
    1002,
    'data.type 必填且只能包含字母、数字、下划线和中划线（用于选择 pay-notify/<type>.js）',
    'data.type is required and may only contain letters, digits, _ and - (it selects pay-notify/<type>.js)',
  ],
  TOTAL_FEE_INVALID: [
    1003,
    'data.total_fee 必须是正整数（单位分），且不超过 {max}',
    'data.total_fee must be a positive integer in fen, at most {max}',
  ],
  SUBJECT_REQUIRED: [
    1004,
    'data.subject（订单标题）必填，最长 {max} 个字符',
    'data.subject (order title) is required, at most {max} characters',
  ],
  OUT_TRADE_NO_INVALID: [
    1005,
    'data.out_trade_no 必填，6-32 位字母、数字或 _-|*',
    'data.out_trade_no is required: 6-32 characters of letters, digits or _-|*',
  ],
  OPENID_REQUIRED: [1006, '当前支付方式 {pay_type} 需要 data.openid', 'The pay type {pay_type} needs data.openid'],
  PLATFORM_UNSUPPORTED: [
    1007,
    '当前客户端环境 {platform} 不支持 {provider} 支付',
    'The client platform {platform} cannot pay with {provider}',
  ],
  CONTEXT_INVALID: [
    1008,
    'context 无效：请传 this.getClientInfo()、originalParam.context 或云函数 context',
    'Invalid context: pass this.getClientInfo(), originalParam.context or the cloud function context',
  ],
  CUSTOM_INVALID: [
    1009,
    'data.custom 必须是对象，且不能包含与订单字段重名的键：{keys}',
    'data.custom must be an object whose keys do not collide with order fields: {keys}',
  ],
  OTHER_INVALID: [1010, 'data.other 必须是对象', 'data.other must be an object'],
  OTHER_PROTECTED: [1011, 'data.other 不能覆盖受保护字段：{keys}', 'data.other cannot override protected fields: {keys}'],
  TIME_EXPIRE_INVALID: [
    1012,
    'data.time_expire 必须是 13 位毫秒时间戳，且至少在 {min} 之后（当前支付方式 {pay_type}）',
    'data.time_expire must be a 13-digit ms timestamp at least {min} ahead (pay type {pay_type})',
  ],
  TIME_EXPIRE_UNSUPPORTED: [1013, '{provider} 不支持 time_expire 参数', '{provider} does not support time_expire'],
  APPLE_RECEIPT_INVALID: [1014, '苹果内购凭证校验失败：{reason}', 'Apple purchase verification failed: {reason}'],
  APPLE_TRANSACTION_USED: [1015, '该苹果交易（transaction_id）已被使用', 'This Apple transaction has already been used'],
  APPLE_PRODUCT_MISMATCH: [1016, '苹果内购商品与订单不符：{reason}', 'The Apple purchase does not match the order: {reason}'],
  VIRTUAL_MODE_INVALID: [
    1017,
    'data.wxpay_virtual.mode 只能是 short_series_coin 或 short_series_goods',
    'data.wxpay_virtual.mode must be short_series_coin or short_series_goods',
  ],
  VIRTUAL_QUANTITY_INVALID: [
    1018,
    'data.wxpay_virtual.buy_quantity 必须是正整数',
    'data.wxpay_virtual.buy_quantity must be a positive integer',
  ],
  VIRTUAL_GOODS_INVALID: [
    1019,
    '道具直购需要 product_id 和正整数 goods_price（分）',
    'Goods mode needs product_id and a positive integer goods_price (fen)',
  ],
  SESSION_KEY_MISSING: [
    1020,
    '未找到该用户的 session_key，请先在小程序内登录（code2Session）',
    'No session_key for this user; log in through code2Session first',
  ],
  USER_NOT_WHITELISTED: [
    1030,
    '当前用户不在 userWhitelist 中（配置了 userWhitelist 时 data.user_id 必填）',
    'The user is not in userWhitelist (data.user_id is required when userWhitelist is set)',
  ],
  FIELD_INVALID: [1021, '参数 {field} 无效：{reason}', 'Invalid parameter {field}: {reason}'],
  AUTH_CODE_INVALID: [
    1041,
    '付款码 auth_code 格式无效（{rule}），请重新扫描用户的付款码',
    "The payment code auth_code is not valid ({rule}); scan the buyer's code again",
  ],

  // ---- order state (20xx)
  ORDER_NOT_FOUND: [2001, '支付订单不存在：{out_trade_no}', 'Payment order not found: {out_trade_no}'],
  ORDER_NOT_PAID: [2002, '订单未支付', 'The order is not paid'],
  REFUND_FEE_INVALID: [
    2003,
    '退款金额必须是正整数（分），且不超过可退金额 {refundable}',
    'The refund must be a positive integer in fen, at most the refundable {refundable}',
  ],
  REFUND_RETRY_LATER: [2004, '暂时无法退款，请 1 分钟后重试', 'Cannot refund right now; retry in a minute'],
  ORDER_PAID: [2005, '订单已支付，不能再次发起支付', 'The order is already paid; it cannot be paid again'],
  ORDER_CLOSED: [2006, '订单已关闭，请使用新的 out_trade_no', 'The order is closed; use a new out_trade_no'],
  ORDER_REFUNDED: [2007, '订单已退款，请使用新的 out_trade_no', 'The order has been refunded; use a new out_trade_no'],
  ORDER_AMOUNT_CHANGED: [
    2008,
    '同一 out_trade_no 的金额不能修改（原 {old} 分，本次 {new} 分），请使用新的单号',
    'The amount of an out_trade_no cannot change (was {old}, now {new} fen); use a new out_trade_no',
  ],
  ORDER_BUSY: [2009, '订单正在处理中，请稍后重试', 'The order is being processed; retry shortly'],
  CODEPAY_CANCELLED: [
    2201,
    '付款码支付在 {seconds} 秒内未完成，交易已撤销，用户不会被扣款；请用户重新出示付款码，并使用新的 out_trade_no',
    'The codepay was not completed within {seconds} s and was cancelled; the buyer is not charged. Ask for a new code and use a new out_trade_no',
  ],
  CODEPAY_FAILED: [2202, '付款码支付失败：{reason}', 'The codepay failed: {reason}'],
  CODEPAY_WAITING: [
    2203,
    '付款码支付结果未确定（撤销未得到确认），请稍后用 queryPayment 查询，不要让用户重复付款',
    'The codepay outcome is not known yet (the cancel was not confirmed); ask queryPayment later and do not charge the buyer again',
  ],
  COIN_BALANCE_NOT_ENOUGH: [2111, '用户代币余额不足', "The user's coin balance is too low"],
  COIN_ALREADY_REFUNDED: [2112, '该代币支付已经退款，不能再次退款', 'This coin payment has already been refunded'],
  ORDER_CLOSE_LATER: [
    2010,
    '支付平台暂时无法关闭该订单（例如二维码尚未被扫描），请稍后重试或等待订单过期',
    'The provider cannot close this order yet (e.g. its QR code was never scanned); retry later or let it expire',
  ],

  // ---- transfers / payouts (21xx)
  TRANSFER_AMOUNT_INVALID: [
    2101,
    'transfer_amount 必须是整数（分），且不少于 {min} 分（{provider} 的最低转账金额）',
    'transfer_amount must be an integer in fen, at least {min} ({provider} minimum)',
  ],
  TRANSFER_NAME_REQUIRED: [
    2102,
    '转账金额达到 {threshold} 分（{provider} 的实名门槛）时必须传收款人姓名 {field}',
    'A transfer of {threshold} fen or more ({provider} threshold) needs the payee name {field}',
  ],
  TRANSFER_PARAMS_CHANGED: [
    2103,
    '同一 out_bill_no 的参数不能修改（{field} 与首次请求不同）；重试请使用与首次完全相同的参数，新的转账请使用新的单号',
    'The parameters of an out_bill_no cannot change ({field} differs from the first request); retry with the same parameters, or use a new out_bill_no',
  ],
  TRANSFER_NOT_FOUND: [2104, '转账单不存在：{out_bill_no}', 'Transfer not found: {out_bill_no}'],
  TRANSFER_NOT_CANCELLABLE: [
    2105,
    '转账单 {out_bill_no} 当前状态 {state} 不能撤销（只能在用户确认收款前撤销）',
    'Transfer {out_bill_no} is {state} and cannot be cancelled (only before the user confirms)',
  ],
  TRANSFER_FAILED: [
    2106,
    '转账失败：{reason}（该 out_bill_no 已终结，请排除原因后使用新的单号）',
    'The transfer failed: {reason} (this out_bill_no is final; fix the cause and use a new out_bill_no)',
  ],

  // ---- provider / gateway (30xx)
  GATEWAY_ERROR: [
    3001,
    '支付网关返回错误：{providerCode} {providerMsg}',
    'The payment gateway returned an error: {providerCode} {providerMsg}',
  ],
  GATEWAY_UNREACHABLE: [3002, '无法连接支付网关，请稍后重试', 'The payment gateway cannot be reached; retry later'],
  GATEWAY_RESPONSE_UNVERIFIED: [
    3003,
    '支付网关应答签名验证失败，已拒绝该应答',
    'The gateway response signature did not verify; the response was rejected',
  ],
  GATEWAY_RESPONSE_INVALID: [3004, '支付网关应答格式无效', 'The gateway response is malformed'],
  OPERATION_UNSUPPORTED: [3005, '{provider} 不支持该操作：{operation}', '{provider} does not support {operation}'],
  GATEWAY_CERT_UNKNOWN: [
    3006,
    '支付宝应答由未配置的支付宝公钥证书签名（alipay_cert_sn={sn}，已配置：{configured}）。支付宝可能已更换证书：请在开放平台下载新的支付宝公钥证书（alipayCertPublicKey_RSA2.crt），加入 alipayPublicCertContent 或 alipayPublicCertPath（可与旧证书并存）',
    'The Alipay answer is signed with an Alipay public certificate that is not configured (alipay_cert_sn={sn}; configured: {configured}). Alipay may have rotated its certificate: download the new Alipay public certificate (alipayCertPublicKey_RSA2.crt) from the open platform and add it to alipayPublicCertContent or alipayPublicCertPath (old and new may stay side by side)',
  ],

  // ---- notifications (40xx); never echoed to the provider, logged without secrets
  NOTIFY_SIGNATURE_INVALID: [4001, '异步通知签名验证失败', 'Notification signature verification failed'],
  NOTIFY_SERIAL_UNKNOWN: [
    4002,
    '异步通知使用了未知的平台证书或公钥序列号',
    'The notification names an unknown platform certificate or public key',
  ],
  NOTIFY_TIMESTAMP_EXPIRED: [4003, '异步通知时间戳超出 5 分钟窗口', 'The notification timestamp is outside the 5-minute window'],
  NOTIFY_PROBE: [
    4004,
    '微信支付签名探测请求（WECHATPAY/SIGNTEST），已按要求拒绝',
    'WeChat Pay signature probe (WECHATPAY/SIGNTEST) refused as required',
  ],
  NOTIFY_DECRYPT_FAILED: [
    4005,
    '异步通知解密失败（密钥或认证标签不符）',
    'Notification decryption failed (key or authentication tag mismatch)',
  ],
  NOTIFY_MALFORMED: [4006, '异步通知格式无效', 'The notification is malformed'],
  NOTIFY_MISMATCH: [4007, '异步通知与订单不符：{field}', 'The notification does not match the order: {field}'],
  NOTIFY_HANDLER_FAILED: [
    4008,
    '业务回调 pay-notify/{type} 执行失败，将在重试时再次执行',
    'The handler pay-notify/{type} failed; it runs again on the retry',
  ],
  NOTIFY_HANDLER_MISSING: [4009, '未找到业务回调 pay-notify/{type}.js', 'The handler pay-notify/{type}.js was not found'],
  NOTIFY_ROUTE_INVALID: [4010, '异步通知地址无效', 'Invalid notification route'],
  NOTIFY_STALE: [
    4021,
    '异步通知时间戳超出有效期（{window}），按重放处理',
    'The notification timestamp is outside its validity window ({window}); treated as a replay',
  ],

  // ---- statements 对账单 (81xx)
  STATEMENT_DATE_INVALID: [
    8101,
    '对账单日期 {bill_date} 无效：格式为 yyyy-MM-dd（北京时间），且不能晚于今天',
    'Invalid statement date {bill_date}: use yyyy-MM-dd (Beijing time), not after today',
  ],
  STATEMENT_HASH_MISMATCH: [
    8102,
    '对账单文件校验失败：{hash_type} 摘要与网关应答不符，文件未保存，请稍后重新下载',
    'The statement file failed its check: its {hash_type} digest differs from the gateway answer; nothing was stored, download it again later',
  ],
  STATEMENT_FORMAT_INVALID: [8103, '对账单文件格式无法识别：{reason}', 'The statement file cannot be read: {reason}'],
  STATEMENT_NOT_CONFIGURED: [
    8104,
    '没有可下载对账单的支付配置（{provider}）：请在 uni-pay/config.js 中配置该渠道',
    'No payment config to download statements from ({provider}); configure the provider in uni-pay/config.js',
  ],

  // ---- access (50xx)
  FORBIDDEN: [5001, '无权调用 {method}：该方法只允许云端调用', '{method} may only be called from the cloud'],
  METHOD_NOT_FOUND: [5002, '方法 {method} 不存在', 'No method {method}'],
  VK_API_REPLACED: [5010, 'vk-uni-pay 的 {api} 在本插件中不提供：{replacement}', "vk-uni-pay's {api} is not provided here: {replacement}"],
  INTERNAL: [5000, '支付服务内部错误，请稍后重试', 'Internal payment error; retry later'],
} as const satisfies Record<string, readonly [number, string, string]>;

export type ErrorKey = keyof typeof ERRORS;

export class PayError extends Error {
  readonly key: ErrorKey;
  readonly code: number;
  readonly msgZh: string;
  readonly msgEn: string;
  /** extra, non-secret fields returned with the error (e.g. provider error code) */
  readonly detail?: Record<string, unknown>;

  constructor(key: ErrorKey, vars: Record<string, unknown> = {}, detail?: Record<string, unknown>) {
    const [code, zh, en] = ERRORS[key];
    const fill = (t: string) => t.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined ? '' : String(vars[k])));
    super(fill(en));
    this.name = 'PayError';
    this.key = key;
    this.code = code;
    this.msgZh = fill(zh);
    this.msgEn = fill(en);
    this.detail = detail;
  }

  localized(locale: string | undefined): string {
    return locale && /^en/i.test(locale) ? this.msgEn : this.msgZh;
  }
}

export function isPayError(e: unknown): e is PayError {
  return e instanceof PayError || (typeof e === 'object' && e !== null && (e as PayError).name === 'PayError' && 'key' in e);
}
