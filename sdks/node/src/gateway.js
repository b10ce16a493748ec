// For apps that call providers through meterr's gateway instead of reporting themselves: each
// provider SDK's base URL on meterr, the attribution headers, and options objects ready to spread
// into `new OpenAI({...})`, `new AzureOpenAI({...})` or `new Anthropic({...})` (docs/gateway.md).
import { PROVIDERS } from './event.js';

/** Where each provider's official SDK points on meterr (what its base URL setting gets). */
const SDK_BASE_PATHS = Object.freeze({
  openai: '/openai/v1',
  azure: '/azure',
  anthropic: '/anthropic',
  gemini: '/gemini',
  mistral: '/mistral',
  cohere: '/cohere',
});

const trimSlash = (url) => String(url).replace(/\/+$/, '');

/**
 * The base URL a provider's SDK is given to call through meterr: `…/openai/v1` (OpenAI's
 * `baseURL`), `…/azure` (AzureOpenAI's `endpoint`), `…/anthropic`, `…/gemini`, `…/mistral`, `…/cohere`.
 * @param {string} meterrURL meterr's base URL, e.g. `http://127.0.0.1:8787`
 * @param {string} provider
 * @returns {string}
 */
export function gatewayBaseURL(meterrURL, provider) {
  const path = SDK_BASE_PATHS[provider];
  if (path === undefined) throw new TypeError(`gatewayBaseURL: provider must be one of ${PROVIDERS.join(', ')}`);
  return trimSlash(meterrURL) + path;
}

/**
 * The OpenAI-compatible unified API (`…/v1`), where a model named `provider/model`
 * (`anthropic/claude-sonnet-4-5`) reaches any provider.
 * @param {string} meterrURL
 * @returns {string}
 */
export function unifiedBaseURL(meterrURL) {
  return trimSlash(meterrURL) + '/v1';
}

/**
 * The `x-meterr-*` headers that bill calls to a team, user, project and tags (a key bound to a
 * team bills that team whatever they say). Tags travel as `k=v` pairs in key order, joined by
 * commas, so a tag key may not hold `=` or `,` and a value may not hold `,`.
 * @param {{team?: string, user?: string, project?: string, tags?: Record<string, string>}} [attribution]
 * @returns {Record<string, string>}
 * @throws {TypeError} for a tag the header cannot carry
 */
export function attributionHeaders({ team, user, project, tags } = {}) {
  const headers = {};
  if (team) headers['x-meterr-team'] = String(team);
  if (user) headers['x-meterr-user'] = String(user);
  if (project) headers['x-meterr-project'] = String(project);
  const keys = Object.keys(tags ?? {}).sort();
  if (keys.length > 0) {
    headers['x-meterr-tags'] = keys
      .map((key) => {
        const value = String(tags[key]);
        if (!key.trim() || /[=,]/.test(key) || value.includes(',')) {
          throw new TypeError(`attributionHeaders: tag ${JSON.stringify(key)} cannot travel in x-meterr-tags (no "=" or "," in keys, no "," in values)`);
        }
        return `${key}=${value}`;
      })
      .join(',');
  }
  return headers;
}

/**
 * Options to spread into a provider SDK's constructor so that its calls go through meterr's
 * gateway with a meterr key and attribution: `{ baseURL, apiKey, defaultHeaders }` (Azure:
 * `{ endpoint, apiKey, defaultHeaders }`). Add your own options after the spread.
 * @param {object} options
 * @param {string} options.url meterr's base URL
 * @param {string} options.key a meterr key with the `gateway` scope (`mk_…`)
 * @param {string} [options.provider] (default `openai`)
 * @param {string} [options.team]
 * @param {string} [options.user]
 * @param {string} [options.project]
 * @param {Record<string, string>} [options.tags]
 */
export function gatewayOptions({ url, key, provider = 'openai', team, user, project, tags } = {}) {
  if (typeof url !== 'string' || !url) throw new TypeError('gatewayOptions needs meterr\'s url');
  if (typeof key !== 'string' || !key) throw new TypeError('gatewayOptions needs a meterr key');
  const base = gatewayBaseURL(url, provider);
  const defaultHeaders = attributionHeaders({ team, user, project, tags });
  return provider === 'azure'
    ? { endpoint: base, apiKey: key, defaultHeaders }
    : { baseURL: base, apiKey: key, defaultHeaders };
}

/**
 * `new OpenAI({ ...openAIGatewayOptions({ url, key, team, tags }) })`: the OpenAI SDK through meterr.
 * @param {Omit<Parameters<typeof gatewayOptions>[0], 'provider'>} options
 * @returns {{baseURL: string, apiKey: string, defaultHeaders: Record<string, string>}}
 */
export function openAIGatewayOptions(options) {
  return gatewayOptions({ ...options, provider: 'openai' });
}

/**
 * `new Anthropic({ ...anthropicGatewayOptions({ url, key, team, tags }) })`: the Anthropic SDK through meterr.
 * @param {Omit<Parameters<typeof gatewayOptions>[0], 'provider'>} options
 * @returns {{baseURL: string, apiKey: string, defaultHeaders: Record<string, string>}}
 */
export function anthropicGatewayOptions(options) {
  return gatewayOptions({ ...options, provider: 'anthropic' });
}
