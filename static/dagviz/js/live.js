// Live data over /graphql websockets (graphql-transport-ws) with the vendored graphql-ws client.
//
// One connection per page, retried forever with backoff. graphql-ws re-sends a subscription's
// payload after a reconnect, so a handler that moves `variables.after` to the last cursor it
// saw (the second argument of `next`) resumes exactly where it stopped. Reconnect listeners
// let views that hold snapshots (tables, counts) reload what they may have missed.

let client = null;
let connectedBefore = false;
const reconnectListeners = new Set();
// 4401 Unauthorized, 4403 Forbidden: the server wants a signed-in user (the session ended).
const SIGNED_OUT_CLOSE_CODES = new Set([4401, 4403]);

function indicator(state) {
  const badge = document.querySelector("[data-testid=live-indicator]");
  if (!badge) return;
  badge.hidden = false;
  badge.dataset.state = state;
  badge.textContent = { live: "● live", connecting: "○ connecting…", "signed-out": "○ signed out: reload to sign in" }[state]
    || "○ reconnecting…";
  badge.title = state === "live" ? "Receiving live updates" : "Live updates interrupted; reconnecting";
}

function backoff(retries) {
  const wait = Math.min(5000, 250 * 2 ** retries) + Math.random() * 250;
  return new Promise((resolve) => setTimeout(resolve, wait));
}

export function liveClient() {
  if (client) return client;
  if (!window.graphqlWs) throw new Error("graphql-ws is not loaded (vendor/graphiql/graphql-ws.min.js).");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  indicator("connecting");
  client = window.graphqlWs.createClient({
    url: `${scheme}://${location.host}/graphql`,
    lazy: false,
    keepAlive: 15000,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: backoff,
    on: {
      connected: () => {
        indicator("live");
        if (connectedBefore) for (const listener of reconnectListeners) listener();
        connectedBefore = true;
      },
      closed: (event) => indicator(SIGNED_OUT_CLOSE_CODES.has(event && event.code) ? "signed-out" : "reconnecting"),
    },
  });
  window.dagvizLive = client;  // for diagnostics and tests (e.g. terminate() to cut the socket)
  return client;
}

export function onReconnect(listener) {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}

// Subscribe; `next(data, variables)` may change `variables` (e.g. the cursor) for a resubscription.
export function subscribe(query, variables, { next, error = () => {}, complete = () => {} }) {
  const payload = { query, variables: { ...variables } };
  return liveClient().subscribe(payload, {
    next: (result) => {
      if (result.errors && result.errors.length) {
        error(new Error(result.errors.map((item) => item.message).join("; ")));
        return;
      }
      if (result.data) next(result.data, payload.variables);
    },
    error: (failure) => {
      const message = Array.isArray(failure) ? failure.map((item) => item.message).join("; ")
        : failure && failure.message ? failure.message : String(failure && failure.reason || failure);
      error(new Error(message));
    },
    complete,
  });
}
