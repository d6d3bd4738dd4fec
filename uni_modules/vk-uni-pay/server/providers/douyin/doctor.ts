/** `doctor` checks of the `douyin.mp-toutiao` node (docs/douyin.md). */
import { Findings, type DoctorInput, type Finding } from '../../core/doctor';

export function diagnoseDouyin({ name, node }: DoctorInput): Finding[] {
  const f = new Findings(name);
  const FIX: readonly [string, string] = [
    '抖音开放平台 → 小程序 → 能力 → 支付 → 支付设置：AppID、SALT、Token',
    'Douyin open platform → mini program → capabilities → payment → payment settings: AppID, SALT, Token',
  ];
  if (f.require(node, 'appId', FIX) && !/^tt[0-9a-z]+$/i.test(String(node.appId)))
    f.warn('appId', ['抖音小程序 AppID 通常以 tt 开头', 'A Douyin mini program AppID usually starts with tt'], FIX);
  f.require(node, 'salt', FIX);
  f.require(node, 'token', FIX);
  if (!node.mchId)
    f.info('mchId', [
      '未配置 mchId：queryAccountBalance 不可用（支付不受影响）',
      'No mchId: queryAccountBalance is unavailable (payments are not affected)',
    ]);
  if (node.sandbox === true && !node.gateway)
    f.warn('sandbox', [
      'sandbox 为 true：请求发往抖音沙盒域名，上线前请改为 false',
      'sandbox is true: calls go to Douyin’s sandbox host; set it to false before launch',
    ]);
  return f.list;
}
