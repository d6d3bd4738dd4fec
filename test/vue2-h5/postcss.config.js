// uni-app's own PostCSS step (rpx, `page` selector, ...).
module.exports = {
  plugins: [require('@dcloudio/vue-cli-plugin-uni/packages/postcss')],
};
