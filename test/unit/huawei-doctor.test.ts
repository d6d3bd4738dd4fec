/** doctor on the huawei nodes: a good pair passes clean; each broken key or field is named (no network). */
import { generateKeyPairSync } from 'node:crypto';
import { runDoctor } from '../../uni_modules/vk-uni-pay/server/services/doctor';

const NOW = Date.now();
const env = { http: { request: async () => Promise.reject(new Error('no network')) }, clock: { now: () => NOW } };
const rsa = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const platformHex =
  '04d6657dde75281a985a0b745b204197a019ddd24acfb7af50b34f3eb5471d4ec2687ecaa41776638100e23a065f3b8fce96b00cf26645045ce4a6bd840dc90b8c';

function node(clientType: string, over: Record<string, unknown> = {}) {
  return {
    appId: '5765880207854262001',
    mchId: '101540000089',
    mchAuthId: '1202917',
    mchPrivateKey: rsa,
    platformPublicKey: platformHex,
    clientType,
    ...over,
  };
}
const config = (app: Record<string, unknown>, mp = node('mp-harmony')) => ({
  notifyUrl: { 'space-1': 'https://fc-space-1.next.bspapp.com/http/vk-pay' },
  huawei: { 'app-harmony': app, 'mp-harmony': mp },
});
const checks = async (c: Record<string, any>) =>
  (await runDoctor(c, env, { spaceIds: ['space-1'] })).findings
    .filter((f) => f.severity !== 'info')
    .map((f) => `${f.node} ${f.severity} ${f.check}`);

test('both nodes of a good config pass clean', async () => {
  expect(await checks(config(node('app-harmony')))).toEqual([]);
});

test('unreadable keys, missing fields, a short RSA key and a wrong clientType are named', async () => {
  const short = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  expect(await checks(config(node('app-harmony', { mchPrivateKey: 'xx', platformPublicKey: '04abc', mchAuthId: '' })))).toEqual([
    'huawei.app-harmony error mchAuthId',
    'huawei.app-harmony error mchPrivateKey',
    'huawei.app-harmony error platformPublicKey',
  ]);
  expect(await checks(config(node('app-harmony', { mchPrivateKey: short }), node('app-harmony')))).toEqual([
    'huawei.app-harmony warn mchPrivateKey.size',
    'huawei.mp-harmony warn clientType',
  ]);
});
