// What meteredFetch knows about each provider's requests: which provider a URL goes to, which
// calls cost money (the metered endpoints), and the request's model, stream flag and user.
// The same paths as meterr's provider profiles (Sources/MeterrProviders/*/…Profile.swift).

const HOSTS = [
  [/(^|\.)api\.openai\.com$/, 'openai'],
  [/\.openai\.azure\.com$|\.cognitiveservices\.azure\.com$|\.services\.ai\.azure\.com$/, 'azure'],
  [/(^|\.)api\.anthropic\.com$/, 'anthropic'],
  [/(^|\.)generativelanguage\.googleapis\.com$|(^|\.)aiplatform\.googleapis\.com$/, 'gemini'],
  [/(^|\.)mistral\.ai$/, 'mistral'],
  [/(^|\.)cohere\.(com|ai)$/, 'cohere'],
];

/**
 * The provider a request goes to, from its host (`api.openai.com`, `*.openai.azure.com`, …) or,
 * for other hosts (a proxy, a compatible server, a test double), its path; `null` when unknown.
 * @param {URL} url
 * @returns {string | null}
 */
export function inferProvider(url) {
  const host = url.hostname.toLowerCase();
  for (const [pattern, provider] of HOSTS) if (pattern.test(host)) return provider;
  const path = url.pathname;
  if (/\/openai\/deployments\//.test(path) || path.startsWith('/azure/')) return 'azure';
  if (path.startsWith('/mistral/')) return 'mistral';
  if (/\/messages(\/count_tokens)?$/.test(path)) return 'anthropic';
  if (/\/models\/[^/]+:[A-Za-z]+$/.test(path)) return 'gemini';
  if (/\/v[12]\/chat$|\/v[12]\/embed$/.test(path)) return 'cohere';
  if (/\/(chat\/completions|completions|responses|embeddings)$/.test(path)) return 'openai';
  return null;
}

/**
 * The metered endpoint a path is for its provider (`chat.completions`, `responses`, `embeddings`,
 * `messages`, `generateContent`, …), `count_tokens` for token counts, or `null` for calls that cost
 * nothing or that meterr does not meter (model lists, files, …).
 * @param {string} provider
 * @param {string} path the URL's path, without its query
 * @returns {string | null}
 */
export function endpointForPath(provider, path) {
  switch (provider) {
    case 'openai':
    case 'azure':
    case 'mistral':
      if (path.endsWith('/chat/completions')) return 'chat.completions';
      if (path.endsWith('/completions')) return 'completions';
      if (path.endsWith('/responses')) return 'responses';
      if (path.endsWith('/embeddings')) return 'embeddings';
      return null;
    case 'anthropic':
      if (path.endsWith('/messages/count_tokens')) return 'count_tokens';
      if (path.endsWith('/messages')) return 'messages';
      return null;
    case 'gemini':
      if (path.endsWith(':streamGenerateContent')) return 'streamGenerateContent';
      if (path.endsWith(':generateContent')) return 'generateContent';
      if (path.endsWith(':countTokens')) return 'count_tokens';
      if (path.endsWith(':embedContent') || path.endsWith(':batchEmbedContents')) return 'embedContent';
      return null;
    case 'cohere':
      if (path.endsWith('/v2/chat')) return 'chat';
      if (path.endsWith('/v1/chat')) return 'chat.v1';
      if (path.endsWith('/embed')) return 'embed';
      return null;
    default:
      return null;
  }
}

/**
 * @typedef {object} RequestFacts
 * @property {string | null} model the model asked for (body, or the path for Gemini and Azure deployments)
 * @property {boolean} stream whether the response will stream
 * @property {boolean} hasStreamOptions whether the body has a top-level `stream_options`
 * @property {string | null} user OpenAI's `user` field
 */

/**
 * What the request says: model, stream flag, `stream_options`, user.
 * @param {string} provider
 * @param {string} path
 * @param {object | undefined} body the parsed JSON body (undefined when unknown or not JSON)
 * @returns {RequestFacts}
 */
export function requestFacts(provider, path, body) {
  const object = body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {};
  const facts = {
    model: typeof object.model === 'string' ? object.model : null,
    stream: object.stream === true,
    hasStreamOptions: object.stream_options !== undefined && object.stream_options !== null,
    user: typeof object.user === 'string' ? object.user : null,
  };
  if (provider === 'gemini') {
    const match = /\/models\/([^:/?]+)/.exec(path);
    if (match) facts.model = decodeURIComponent(match[1]);
    facts.stream = path.includes(':streamGenerateContent');
  }
  if (provider === 'azure') {
    const match = /\/deployments\/([^/?]+)/.exec(path);
    if (match) facts.model = decodeURIComponent(match[1]);
  }
  return facts;
}
