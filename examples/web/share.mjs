// The plan in the page's address and in this browser's storage, so a reload or
// an opened link brings the plan back. The address carries the editor's text
// exactly as typed (JSON or YAML, comments and all), deflated with the
// browser's own CompressionStream ('deflate-raw', RFC 1951: no header, the
// shortest form) and written in base64url (RFC 4648 §5), which needs no
// escaping in a URL: `#plan=<base64url>`. A fragment never reaches a server,
// so a shared plan stays as private as the page itself.

export const FRAGMENT_KEY = 'plan';
export const STORAGE_KEY = 'portplan:plan';
// A link is someone else's input: deflate reaches ~1000:1, so a 2 MB address
// (Chromium's limit) could inflate to gigabytes. No plan comes near this.
export const MAX_PLAN_BYTES = 4 * 1024 * 1024;

/** A shared plan that cannot be read; the message says why. */
export class ShareError extends Error {}

function toBase64url(bytes) {
  let binary = '';
  // In slices: String.fromCharCode takes its bytes as arguments, and
  // argument lists are bounded.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new ShareError('the link\'s plan is not base64url text (was the link cut off?)');
  }
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The editor's text as the fragment's value. */
export async function encodePlan(text) {
  if (typeof CompressionStream === 'undefined') {
    throw new ShareError('this browser cannot write the plan into a link (it has no CompressionStream)');
  }
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return toBase64url(new Uint8Array(await new Response(stream).arrayBuffer()));
}

/** The editor's text of a fragment value; a ShareError when it cannot be read. */
export async function decodePlan(value) {
  const bytes = fromBase64url(value);
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      size += chunk.length;
      if (size > MAX_PLAN_BYTES) {
        await reader.cancel();
        throw new ShareError(`the link's plan is larger than ${MAX_PLAN_BYTES / 1024 / 1024} MiB`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof ShareError) throw error;
    throw new ShareError('the link\'s plan is damaged (was the link cut off?)');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(await new Blob(chunks).arrayBuffer());
  } catch {
    throw new ShareError('the link\'s plan is not UTF-8 text');
  }
}

/** The fragment's plan value, or null when the address has none. */
export function fragmentValue(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  return params.get(FRAGMENT_KEY);
}

/** The page's address carrying `text` (what the share button copies). */
export async function shareUrl(location, text) {
  const url = new URL(location.href);
  url.hash = `${FRAGMENT_KEY}=${await encodePlan(text)}`;
  return url.href;
}

// Storage can be off (a privacy setting) or full; the page then works as
// before, it just does not remember: a plan must never fail to check because
// it could not be saved.
export function storedPlan() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storePlan(text) {
  try {
    localStorage.setItem(STORAGE_KEY, text);
  } catch {
    // See above: not remembering is the only consequence.
  }
}
