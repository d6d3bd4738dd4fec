// Vue CLI's babel preset (polyfills by usage; the TypeScript js_sdk goes through ts-loader first).
module.exports = {
  presets: ['@vue/app'],
};
