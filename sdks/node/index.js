// meterr for Node.js: report AI API usage to a self-hosted meterr, meter the OpenAI and Anthropic
// SDKs' calls through a fetch wrapper, or point the SDKs at meterr's gateway.
export { Reporter } from './src/reporter.js';
export { meteredFetch } from './src/fetch.js';
export { MeteredCall, byteLengthEstimator } from './src/call.js';
export {
  anthropicGatewayOptions,
  attributionHeaders,
  gatewayBaseURL,
  gatewayOptions,
  openAIGatewayOptions,
  unifiedBaseURL,
} from './src/gateway.js';
export { PROVIDERS } from './src/event.js';
export { newEventId } from './src/ids.js';
