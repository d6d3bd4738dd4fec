// vk-pay cloud object. Built from uni_modules/vk-uni-pay/server/entry/cloud-object.ts (`npm run build`).
// Your business handlers live beside it in pay-notify/<type>.js (never overwritten by plugin updates);
// vk-uni-pay's location service/pay-notify/<type>.js is read too, pay-notify/ wins when both have the type.
// refund-notify/<type>.js runs once per final refund state (SUCCESS or FAIL) of an order of that type.
const path = require('path');
module.exports = require('./dist/index.obj.js').createCloudObject({
  handlersDir: [path.join(__dirname, 'pay-notify'), path.join(__dirname, 'service', 'pay-notify')],
  refundHandlersDir: path.join(__dirname, 'refund-notify'),
});
