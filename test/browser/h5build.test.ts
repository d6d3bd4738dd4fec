/** `npm start` rebuilds the H5 demo only when its sources changed (tools/h5build.ts). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { h5BuildIsFresh, sourcesHash } from '../../tools/h5build';

describe('H5 build stamp', () => {
  let root: string;
  const out = () => path.join(root, 'dist/build/h5');
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'h5stamp-'));
    write('App.vue', '<script>export default {}</script>');
    write('pages/index/index.vue', '<template><view/></template>');
    write('uni_modules/vk-uni-pay/js_sdk/client.ts', 'export {};');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('the hash follows contents and names, not modification times', () => {
    const h0 = sourcesHash(root);
    expect(sourcesHash(root)).toBe(h0);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(root, 'App.vue'), later, later);
    expect(sourcesHash(root)).toBe(h0);
    write('pages/index/index.vue', '<template><view>changed</view></template>');
    const h1 = sourcesHash(root);
    expect(h1).not.toBe(h0);
    write('pages/result/result.vue', '<template/>');
    expect(sourcesHash(root)).not.toBe(h1);
  });

  test('a build is reused only with a stamp matching the sources', () => {
    expect(h5BuildIsFresh(root, out())).toBe(false);
    write('dist/build/h5/index.html', '<html></html>');
    expect(h5BuildIsFresh(root, out())).toBe(false); // no stamp: an old or foreign build
    fs.writeFileSync(path.join(out(), '.vk-sources-hash'), sourcesHash(root) + '\n');
    expect(h5BuildIsFresh(root, out())).toBe(true);
    write('uni_modules/vk-uni-pay/js_sdk/client.ts', 'export const x = 1;');
    expect(h5BuildIsFresh(root, out())).toBe(false);
  });
});
