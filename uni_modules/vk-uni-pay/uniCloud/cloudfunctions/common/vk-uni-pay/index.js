// vk-uni-pay common module. Built from uni_modules/vk-uni-pay/server by `npm run build` (esbuild):
// dist/index.js is the core; dist/providers/<name>.js load lazily on first use of a provider.
module.exports = require('./dist/index.js');
