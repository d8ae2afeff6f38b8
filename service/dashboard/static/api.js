// fetch() for the service's JSON API: the key header, the error shape, one retry after
// asking for a key when a call is refused for the lack of one.

import { askKey, forgetKey, getKey } from "./auth.js";

export class ApiError extends Error {
  /** `body`: the whole answer, for the few endpoints whose error answer is not the error shape (/ready's 503). */
  constructor(status, error = {}, body = null) {
    super(error.message || `HTTP ${status}`);
    this.body = body;
    this.status = status;
    this.code = error.code || "http_error";
    this.field = error.field || null;
    this.details = error.details || [];
  }
}

async function send(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const key = getKey();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, payload.error, payload);
  return payload;
}

// Set once the user cancels the key dialog that a refused read opened: the panels poll
// every second, and must not reopen it each time. The header's key button still works.
let readKeyDeclined = false;

/** GET (or any method) without needing the admin key; on a server that requires a key for
 * reads too (production), a 401 asks for one once and retries. */
export async function api(path, options) {
  const sentWith = getKey();
  try {
    return await send(path, options);
  } catch (error) {
    if (error.status !== 401 || readKeyDeclined) throw error;
    // Sent before the key that another poll's dialog asked for was entered: retry with it
    // rather than open the dialog a second time.
    if (getKey() && getKey() !== sentWith) return send(path, options);
    const key = await askKey("This server requires an API key for reads too: enter the client or admin key.");
    if (!key) {
      readKeyDeclined = true;
      throw error;
    }
    return send(path, options);
  }
}

/** Like api(), but 404 answers null (an endpoint or resource this server does not have). */
export async function apiOptional(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

/** A state-changing call: asks for the admin key first if none is set, and again once if refused. */
export async function adminApi(path, options = {}) {
  if (!getKey() && !(await askKey())) throw new ApiError(0, { code: "no_key", message: "No admin key entered." });
  try {
    return await send(path, options);
  } catch (error) {
    if (error.status !== 401 && error.status !== 403) throw error;
    forgetKey();
    if (!(await askKey(`The server refused the key: ${error.message}`))) throw error;
    return send(path, options);
  }
}
