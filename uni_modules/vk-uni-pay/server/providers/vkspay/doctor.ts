/** `doctor` checks of the flat `vkspay` node (the protocol facts are partly ASSUMED, see the README). */
import { failureFinding, Findings, probeOrderNo, type DoctorInput, type Finding } from '../../core/doctor';
import type { ProviderContext } from '../types';
import { vksPayRequest, type VksPayConfig } from './index';

export function diagnoseVksPay({ name, node }: DoctorInput): Finding[] {
  const f = new Findings(name);
  const FIX: readonly [string, string] = ['VksPay 商户后台的门店号与密钥', 'Store number and key from the VksPay merchant console'];
  f.require(node, 'mchId', FIX);
  f.require(node, 'key', FIX);
  return f.list;
}

/** `orderquery` for an unused order number; a refused signature is the only thing the (unsigned) answer can prove. */
export async function probeVksPay(name: string, ctx: ProviderContext<VksPayConfig>): Promise<Finding[]> {
  const f = new Findings(name);
  try {
    const r = await vksPayRequest('orderquery', { out_trade_no: probeOrderNo(ctx.clock.now()) }, ctx);
    const msg = String(r.return_msg ?? r.msg ?? '');
    if (/sign|签名/i.test(msg))
      f.error(
        'online',
        [`网关拒绝了签名：${msg}`, `The gateway refused the signature: ${msg}`],
        ['检查 key 是否为该门店的密钥', "Check that key is this store's key"],
      );
    else
      f.info('online', [
        `网关已应答（${msg || r.return_code}），签名被接受；VksPay 应答不签名`,
        `The gateway answered (${msg || r.return_code}) and took the signature; VksPay answers are unsigned`,
      ]);
  } catch (e) {
    f.list.push(failureFinding(name, 'online', e));
  }
  return f.list;
}
