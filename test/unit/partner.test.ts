/** Service-provider (服务商 / ISV) mode details that need no gateway: which ids an order gets, and how they are kept. */
import { partnerIds, publicOrder, type PayOrder } from '../../uni_modules/vk-uni-pay/server/core/order';
import {
  clientAppId,
  partnerPrepayFields,
  partnerTransactionIds,
  partnerV2Ids,
  partnerV2Params,
  resolvePartner,
  storedPartner,
} from '../../uni_modules/vk-uni-pay/server/providers/wxpay/partner';

const SP = { appId: 'wxsp00000000000001', mchId: '1900000900' };

describe('resolvePartner (wxpay)', () => {
  test('a direct merchant: no sub_mchid anywhere → undefined', () => {
    expect(resolvePartner(SP, {})).toBeUndefined();
  });

  test("the call's sub_mchid / sub_appid, with the node's appId / mchId as sp_ ids", () => {
    expect(resolvePartner(SP, { sub_mchid: '1900009001', sub_appid: 'wxsub1' })).toEqual({
      sp_appid: SP.appId,
      sp_mchid: SP.mchId,
      sub_mchid: '1900009001',
      sub_appid: 'wxsub1',
    });
  });

  test("the node's default sub-merchant (subMchId / subAppId) when the call names none", () => {
    const node = { ...SP, subMchId: '1900009002', subAppId: 'wxdefault' };
    expect(resolvePartner(node, {})).toMatchObject({ sub_mchid: '1900009002', sub_appid: 'wxdefault' });
    // a call's own sub-merchant never borrows the default one's app
    expect(resolvePartner(node, { sub_mchid: '1900009001' })).toEqual({ sp_appid: SP.appId, sp_mchid: SP.mchId, sub_mchid: '1900009001' });
  });

  test.each([
    [{ sub_mchid: 'abc' }, 'sub_mchid'],
    [{ sub_mchid: 1900009001 }, 'sub_mchid'],
    [{ sub_mchid: '1900009001', sub_appid: 'wx bad' }, 'sub_appid'],
    [{ sub_appid: 'wxsub1' }, 'sub_mchid'],
  ])('bad ids are a coded error naming the field (%j)', (data, field) => {
    expect(() => resolvePartner(SP, data)).toThrow(expect.objectContaining({ key: 'FIELD_INVALID', code: 1021 }));
    try {
      resolvePartner(SP, data);
    } catch (e: any) {
      expect(e.message).toContain(field);
    }
  });
});

describe('partner request and answer shapes', () => {
  const withApp = { sp_appid: SP.appId, sp_mchid: SP.mchId, sub_mchid: '1900009001', sub_appid: 'wxsub1' };
  const spOnly = { sp_appid: SP.appId, sp_mchid: SP.mchId, sub_mchid: '1900009001' };

  test('the payer is sub_openid under sub_appid, else sp_openid; the client starts the payment with that app', () => {
    expect(partnerPrepayFields(withApp, 'o1')).toEqual({ ...withApp, payer: { sub_openid: 'o1' } });
    expect(partnerPrepayFields(spOnly, 'o1')).toEqual({ ...spOnly, payer: { sp_openid: 'o1' } });
    expect(partnerPrepayFields(spOnly, undefined)).toEqual(spOnly);
    expect(clientAppId(withApp)).toBe('wxsub1');
    expect(clientAppId(spOnly)).toBe(SP.appId);
  });

  test('a partner Transaction is read as appid/mchid of the service provider, the openid of either app, and the sub ids', () => {
    expect(
      partnerTransactionIds({
        sp_appid: 'a',
        sp_mchid: 'm',
        sub_mchid: 's',
        sub_appid: 'sa',
        payer: { sub_openid: 'o2', sp_openid: 'o1' },
      }),
    ).toEqual({ appid: 'a', mchid: 'm', openid: 'o2', partner: { sub_mchid: 's', sub_appid: 'sa' } });
    expect(partnerTransactionIds({ sp_appid: 'a', sp_mchid: 'm', sub_mchid: 's', payer: { sp_openid: 'o1' } }).openid).toBe('o1');
  });

  test('API v2: sub_mch_id (and sub_appid) on every call; notifications read sub_mch_id and the payer under either app', () => {
    expect(partnerV2Params(withApp)).toEqual({ sub_mch_id: '1900009001', sub_appid: 'wxsub1' });
    expect(partnerV2Params(spOnly)).toEqual({ sub_mch_id: '1900009001' });
    expect(partnerV2Params(undefined)).toEqual({});
    expect(partnerV2Ids({ sub_mch_id: 's', sub_appid: 'sa', sub_openid: 'o2' })).toEqual({
      openid: 'o2',
      partner: { sub_mchid: 's', sub_appid: 'sa' },
    });
    expect(partnerV2Ids({ openid: 'o1' })).toEqual({ openid: 'o1' });
  });

  test('storedPartner reads back only complete partner ids', () => {
    expect(storedPartner(withApp)).toEqual(withApp);
    expect(storedPartner({ app_auth_token: 't' })).toBeUndefined();
    expect(storedPartner({ sub_mchid: '1' })).toBeUndefined();
    expect(storedPartner(undefined)).toBeUndefined();
  });
});

describe('the order keeps its partner ids', () => {
  const order = { out_trade_no: 'X', sub_mchid: '1900009001', sp_mchid: SP.mchId, sp_appid: SP.appId, app_auth_token: 'tok', openid: 'o' };

  test('partnerIds picks exactly the partner fields', () => {
    expect(partnerIds(order as Partial<PayOrder>)).toEqual({
      sub_mchid: '1900009001',
      sp_mchid: SP.mchId,
      sp_appid: SP.appId,
      app_auth_token: 'tok',
    });
    expect(partnerIds({ out_trade_no: 'Y' })).toBeUndefined();
  });

  test('the Alipay app_auth_token (a credential) is not in the order a client may see', () => {
    const shown = publicOrder({ ...order, handler_lock_until: 0, handler_attempts: 0 } as unknown as PayOrder);
    expect(shown.app_auth_token).toBeUndefined();
    expect(shown.sub_mchid).toBe('1900009001');
  });
});
