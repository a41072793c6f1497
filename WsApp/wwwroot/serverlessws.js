// serverlessws.js: the browser client of ServerlessWs (wire contract: docs/protocol.md, v2).
// A plain ES module with no dependencies and no build step; WsApp serves it at /client.js.
//
//   import { ServerlessWsClient } from "/client.js";
//   const client = new ServerlessWsClient({ url: "ws://127.0.0.1:5000/ws" });
//   client.addEventListener("message", (e) => console.log(e.detail.from, e.detail.data, e.detail.replayed));
//   client.connect();
//   await client.send("bob", { hello: "bob" });   // "delivered" | "queued" | "unknown"
//
// What it does once so that apps need not: keeps clientId, resumeToken, lastSeq and each group's gseq (sessionStorage
// by default), reconnects with exponential backoff and full jitter, resumes (direct messages after lastSeq, each group
// after its gseq), drops duplicates, flags replayed messages, stops
// for good on 4000 (taken over) and 4001 (closed by an administrator), answers acks as promises, and pings the
// server so that a dead connection is noticed even when the browser does not see it.

/** Close codes that end the session for this client: reconnecting would only fight the reason for the close. */
const FINAL_CLOSE_CODES = new Map([
  [4000, "taken-over"],
  [4001, "closed-by-admin"],
]);

/** The client closes a socket it gave up on (pong or handshake timeout) with this code; the server never sends it. */
const CLIENT_GAVE_UP = 4100;

/**
 * @typedef {object} ClientOptions
 * @property {string | string[] | (() => string)} [url] WebSocket URL of `/ws`, without query. A list is tried in
 *   turn, moving on after every lost connection; a function is called before every connect. Default: `/ws` on the
 *   page's own host. In production one URL in front of all nodes (a load balancer) is the usual choice.
 * @property {string} [clientId] the id to ask for when storage holds none; default: the server makes one.
 * @property {Storage | StorageLike | null} [storage] where clientId, resumeToken, lastSeq and groups are kept;
 *   default `sessionStorage` (one session per tab). `localStorage` shares it between tabs (they then take the id
 *   over from each other); `null` keeps it in memory only.
 * @property {string} [storageKey] key under which the session is stored; default `"serverlessws"`.
 * @property {number} [backoffInitialMs] cap of the first reconnect delay; default 500.
 * @property {number} [backoffMaxMs] largest cap of a reconnect delay; default 15000.
 * @property {number} [ackTimeoutMs] how long `send`, `join`, `leave` and `ping` wait for their answer; default 10000.
 * @property {number} [connectTimeoutMs] how long a connect may take until the welcome; default 10000.
 * @property {number} [pingIntervalMs] application ping period while open (0: off); default 20000.
 */

/**
 * @typedef {object} StorageLike
 * @property {(key: string) => string | null} getItem
 * @property {(key: string, value: string) => void} setItem
 * @property {(key: string) => void} removeItem
 */

/**
 * @typedef {object} ReceivedMessage
 * @property {string} from sender clientId, or "admin"
 * @property {boolean} admin true when the admin API sent it (no client can: the id "admin" is reserved)
 * @property {number} [seq] a direct message's place in this client's own stream (1, 2, 3… across resumes)
 * @property {string} [group] the group of a group message ("*" for a broadcast to every client)
 * @property {number} [gseq] a group message's place in its group's stream (each group counts its own)
 * @property {unknown} data the JSON value the sender sent
 * @property {boolean} replayed true when it came from the log on a resume rather than live
 */

/** An `ack`, `error` or `pong` did not come, or said no. `code` is the protocol's error code or one of the client's. */
export class ServerlessWsError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "ServerlessWsError";
    /** `bad-frame`, `rate-limited`, `unavailable`… from the server; `timeout`, `disconnected`, `not-connected` from the client. */
    this.code = code;
  }
}

/**
 * One logical connection to ServerlessWs that outlives sockets, reconnects and servers.
 *
 * States (`state`, event `statechange`): `idle` → `connecting` → `open` → (`reconnecting` → `connecting` → `open`)…
 * and finally `stopped` (the server ended the session: 4000 or 4001) or `closed` (the app called `close()`).
 *
 * Events (all `CustomEvent`, payload in `detail`):
 * - `statechange` `{ state, previous, code?, reason?, delayMs? }`: every change of `state`.
 * - `welcome` the server's welcome frame (`clientId`, `serverId`, `resumed`, `replayed`, `recovered`…).
 * - `message` a {@link ReceivedMessage}: direct messages in seq order, each group's in gseq order, each once.
 * - `resync` `{ reason: "expired" | "not-recovered", group? }`: messages may have been lost (session expired, or a
 *   log could not replay all of them; `group` names the group when it was a group's log); reload what matters from
 *   the app's own source of truth.
 * - `stopped` `{ code, reason }`: 4000 `taken-over` (the id connected elsewhere) or 4001 `closed-by-admin`; no
 *   reconnect follows. Call `connect()` to start again (a takeover then takes the id back).
 * - `servererror` an `error` frame that answers no pending request.
 */
export class ServerlessWsClient extends EventTarget {
  #options;
  #storage;
  #urlIndex = 0;
  /** @type {WebSocket | null} */ #socket = null;
  #state = "idle";
  #attempt = 0;
  #reconnectTimer = 0;
  #pingTimer = 0;
  #connectTimer = 0;
  #nextId = 1;
  /** @type {Map<string, { resolve: (v: any) => void, reject: (e: Error) => void, timer: number, wholeAck: boolean }>} */
  #pending = new Map();
  /** Messages still to be flagged `replayed`: the welcome says how many follow it from the log. */
  #replayLeft = 0;
  #session = newSession(null);
  #serverId = /** @type {string | null} */ (null);

  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    super();
    this.#options = {
      url: options.url ?? defaultUrl(),
      clientId: options.clientId ?? null,
      storageKey: options.storageKey ?? "serverlessws",
      backoffInitialMs: options.backoffInitialMs ?? 500,
      backoffMaxMs: options.backoffMaxMs ?? 15000,
      ackTimeoutMs: options.ackTimeoutMs ?? 10000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10000,
      pingIntervalMs: options.pingIntervalMs ?? 20000,
    };
    this.#storage = options.storage === undefined ? defaultStorage() : options.storage ?? memoryStorage();
    this.#load();
  }

  /** `idle`, `connecting`, `open`, `reconnecting`, `stopped` or `closed`. */
  get state() { return this.#state; }
  /** This client's id: from storage, or from the last welcome; null before the first welcome without one. */
  get clientId() { return this.#session.clientId; }
  /** The server that holds the socket now; null when not open. */
  get serverId() { return this.#state === "open" ? this.#serverId : null; }
  /** The highest seq received: what a resume asks the server to replay after. */
  get lastSeq() { return this.#session.lastSeq; }
  /** Groups joined through this client (kept with the session, joined again if the session expired). */
  get groups() { return [...this.#session.groups]; }
  /** The highest gseq received per group (the broadcast group "*" included): what a resume names with `since`. */
  get positions() { return { ...this.#session.positions }; }

  /** Opens the connection (again, after `close()` or `stopped`). Progress is reported by `statechange`. */
  connect() {
    if (this.#state === "connecting" || this.#state === "open") return;
    clearTimeout(this.#reconnectTimer);
    this.#attempt = 0;
    this.#open();
  }

  /** Closes for good (1000) and forgets nothing: a later `connect()` resumes. Pending requests are rejected. */
  close() {
    clearTimeout(this.#reconnectTimer);
    this.#drop(1000, "closed by the client");
    this.#setState("closed", { code: 1000 });
  }

  /**
   * Sends `data` (any JSON value) to the client `to`, wherever it is connected.
   * @param {string} to @param {unknown} data
   * @returns {Promise<"delivered" | "queued" | "unknown">} the server's ack: `queued` means kept for the
   *   recipient's resume, `unknown` that no such client exists.
   */
  send(to, data) { return this.#request({ type: "send", to, data }); }

  /** Sends `data` to every member of `group` but this client. @param {string} group @param {unknown} data @returns {Promise<"delivered" | "unknown">} */
  sendToGroup(group, data) { return this.#request({ type: "send", group, data }); }

  /**
   * Joins `group`; membership belongs to the clientId and survives reconnects. Messages after the gseq the server's
   * ack names are delivered. @param {string} group @returns {Promise<"ok">}
   */
  async join(group) {
    const ack = await this.#request({ type: "join", group }, true);
    if (!this.#session.groups.includes(group)) this.#session.groups.push(group);
    // A member already keeps its position (the server does too); a new one starts at the ack's gseq.
    if (!(group in this.#session.positions) && typeof ack.gseq === "number") this.#session.positions[group] = ack.gseq;
    this.#save();
    return ack.status;
  }

  /** Leaves `group`. @param {string} group @returns {Promise<"ok">} */
  async leave(group) {
    const status = await this.#request({ type: "leave", group });
    this.#session.groups = this.#session.groups.filter((g) => g !== group);
    delete this.#session.positions[group];
    this.#save();
    return status;
  }

  /**
   * Asks the application's handler (docs/protocol.md §7) and resolves with its answer: the `data` of the server's
   * `result`. Rejects with a {@link ServerlessWsError} whose `code` is `upstream-failed`, `upstream-timeout`,
   * `not-configured` or `rate-limited` from the server, or the client's own `timeout` / `disconnected`.
   * @param {string} event a name of 1-128 characters of [A-Za-z0-9._:-] @param {unknown} data @returns {Promise<unknown>}
   */
  invoke(event, data) { return this.#request({ type: "invoke", event, data }); }

  /**
   * Hands a durable event to the application's handler; resolves with `"accepted"` once the server stored it (it is
   * delivered later, at least once, in order per client). Rejects with a {@link ServerlessWsError} whose `code` is
   * `upstream-busy`, `unavailable`, `rate-limited` or `not-configured` (no handler, or a node without Redis).
   * @param {string} event @param {unknown} data @returns {Promise<"accepted">}
   */
  emit(event, data) { return this.#request({ type: "event", event, data }); }

  /** An application ping. @returns {Promise<number>} the round trip in milliseconds. */
  async ping() {
    const started = performance.now();
    await this.#request({ type: "ping" });
    return performance.now() - started;
  }

  /** Forgets the stored session (id, token, seq, groups): the next connect starts a new one. */
  forget() {
    this.#session = newSession(this.#options.clientId);
    this.#storage.removeItem(this.#options.storageKey);
  }

  #open() {
    const { clientId, resumeToken, lastSeq, positions } = this.#session;
    const query = new URLSearchParams();
    if (clientId) query.set("clientId", clientId);
    if (resumeToken) {
      query.set("resumeToken", resumeToken);
      query.set("lastSeq", String(lastSeq));
      // Each group resumes after the last gseq this client has: the server replays the rest from the group's log.
      for (const [group, gseq] of Object.entries(positions)) query.append("since", `${group}:${gseq}`);
    }

    const url = this.#nextUrl();
    this.#setState("connecting", { url });
    let socket;
    try {
      const search = query.toString();
      socket = new WebSocket(search ? `${url}${url.includes("?") ? "&" : "?"}${search}` : url);
    } catch (error) {
      // A malformed URL: as good as a lost connection, so the next URL gets its turn.
      this.#lost(1006, String(error));
      return;
    }

    this.#socket = socket;
    // A handshake that never completes (a black-holed node) must not hold the client forever.
    this.#connectTimer = setTimeout(() => this.#giveUp(socket, "connect timeout"), this.#options.connectTimeoutMs);
    socket.onmessage = (event) => this.#onFrame(socket, event.data);
    socket.onclose = (event) => {
      if (socket === this.#socket) this.#lost(event.code, event.reason);
    };
    // onerror is always followed by onclose (1006), which decides what happens next.
  }

  #onFrame(socket, text) {
    if (socket !== this.#socket) return;
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return; // The server only sends JSON; anything else is not ours to interpret.
    }

    switch (frame.type) {
      case "welcome": return this.#onWelcome(frame);
      case "message": return this.#onMessage(frame);
      case "ack": return this.#settle(frame.id, (p) => p.resolve(p.wholeAck ? frame : frame.status));
      case "pong": return this.#settle(frame.id, (p) => p.resolve("pong"));
      case "result": return this.#settle(frame.id, (p) => p.resolve(frame.data));
      case "error": {
        const error = new ServerlessWsError(frame.code, frame.message);
        if (frame.id === undefined || !this.#settle(frame.id, (p) => p.reject(error))) {
          this.#emit("servererror", frame);
        }
        return;
      }
    }
  }

  #onWelcome(frame) {
    clearTimeout(this.#connectTimer);
    const hadSession = this.#session.resumeToken !== null;
    const sameSession = frame.resumed === true;
    this.#session.clientId = frame.clientId;
    this.#session.resumeToken = frame.resumeToken;
    if (!sameSession || frame.recovered === false) {
      // seq restarts with a new session or a lost log: an old lastSeq would hide every new message as a duplicate.
      // (When only a group's log fell short this costs nothing: a socket never repeats a seq.)
      this.#session.lastSeq = 0;
    }
    // Each group's delivery starts after the gseq the welcome names: the client's own position when nothing was
    // lost, else where the server could start (a lost group log restarts its gseq).
    const positions = {};
    for (const [group, position] of Object.entries(frame.groups ?? {})) {
      if (typeof position?.gseq === "number") positions[group] = position.gseq;
    }
    this.#session.positions = positions;
    this.#save();
    this.#serverId = frame.serverId;
    this.#replayLeft = frame.replayed ?? 0;
    this.#attempt = 0;
    this.#setState("open", { serverId: frame.serverId });
    this.#emit("welcome", frame);

    if (hadSession && !sameSession) {
      this.#emit("resync", { reason: "expired" });
      // Groups belonged to the expired session; the app joined them through this client, so join them again.
      for (const group of this.#session.groups) this.#request({ type: "join", group }).catch(() => {});
    } else if (frame.recovered === false) {
      // One event for the session, then one per group whose log could not replay everything after its gseq.
      this.#emit("resync", { reason: "not-recovered" });
      for (const [group, position] of Object.entries(frame.groups ?? {})) {
        if (position?.recovered === false) this.#emit("resync", { reason: "not-recovered", group });
      }
    }

    if (this.#options.pingIntervalMs > 0) {
      const socket = this.#socket;
      this.#pingTimer = setInterval(() => {
        // A pong that does not come means a dead path the browser has not noticed: drop it and reconnect.
        this.ping().catch((error) => {
          if (error.code === "timeout") this.#giveUp(socket, "pong timeout");
        });
      }, this.#options.pingIntervalMs);
    }
  }

  #onMessage(frame) {
    const replayed = this.#replayLeft > 0;
    if (replayed) this.#replayLeft--;
    // The logs replay everything after lastSeq (and each group's gseq), and a socket never repeats one; this guards
    // the edges (a message received but not yet stored when the page was reloaded).
    /** @type {ReceivedMessage} */
    let message;
    if (frame.group !== undefined) {
      if (typeof frame.gseq !== "number" || frame.gseq <= (this.#session.positions[frame.group] ?? 0)) return;
      this.#session.positions[frame.group] = frame.gseq;
      message = { from: frame.from, admin: frame.admin === true, group: frame.group, gseq: frame.gseq, data: frame.data, replayed };
    } else {
      if (typeof frame.seq !== "number" || frame.seq <= this.#session.lastSeq) return;
      this.#session.lastSeq = frame.seq;
      message = { from: frame.from, admin: frame.admin === true, seq: frame.seq, data: frame.data, replayed };
    }

    this.#save();
    this.#emit("message", message);
  }

  #request(frame, wholeAck = false) {
    if (this.#state !== "open" || this.#socket === null) {
      return Promise.reject(new ServerlessWsError("not-connected", `Not connected (state ${this.#state}).`));
    }

    const id = `c${this.#nextId++}`;
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ServerlessWsError("timeout", `No answer to ${frame.type} within ${this.#options.ackTimeoutMs} ms.`));
      }, this.#options.ackTimeoutMs);
      this.#pending.set(id, { resolve, reject, timer, wholeAck });
      socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** Hands the pending request `id` to `action`; false if there is none (late, or not ours). */
  #settle(id, action) {
    const pending = this.#pending.get(id);
    if (!pending) return false;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    action(pending);
    return true;
  }

  #giveUp(socket, reason) {
    if (socket !== this.#socket) return;
    this.#lost(1006, reason);
  }

  /** The socket is gone (closed by the server, the network, or given up on): stop or schedule a reconnect. */
  #lost(code, reason) {
    this.#drop(CLIENT_GAVE_UP, reason);
    const final = FINAL_CLOSE_CODES.get(code);
    if (final) {
      this.#setState("stopped", { code, reason: final });
      this.#emit("stopped", { code, reason: final });
      return;
    }

    // Exponential backoff with full jitter: a random delay up to the cap, so clients that a draining node
    // (1001) or a network blip dropped together do not come back together.
    const cap = Math.min(this.#options.backoffMaxMs, this.#options.backoffInitialMs * 2 ** this.#attempt);
    const delayMs = Math.floor(Math.random() * cap);
    this.#attempt++;
    this.#urlIndex++;
    this.#setState("reconnecting", { code, reason, delayMs });
    this.#reconnectTimer = setTimeout(() => this.#open(), delayMs);
  }

  /** Detaches the current socket and fails what waited on it: an ack that was in flight may or may not have landed. */
  #drop(code, reason) {
    clearTimeout(this.#connectTimer);
    clearInterval(this.#pingTimer);
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) {
      socket.onclose = socket.onmessage = null;
      try { socket.close(code, reason.slice(0, 100)); } catch { /* already closing */ }
    }

    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new ServerlessWsError("disconnected", "The connection closed before the answer came."));
      this.#pending.delete(id);
    }
  }

  #nextUrl() {
    const url = this.#options.url;
    if (typeof url === "function") return url();
    if (Array.isArray(url)) return url[this.#urlIndex % url.length];
    return url;
  }

  #setState(state, detail = {}) {
    const previous = this.#state;
    this.#state = state;
    this.#emit("statechange", { state, previous, ...detail });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #load() {
    let stored = null;
    try {
      stored = JSON.parse(this.#storage.getItem(this.#options.storageKey) ?? "null");
    } catch {
      // Unreadable: start a new session rather than fail.
    }

    const positions = {};
    for (const [group, gseq] of Object.entries(stored?.positions ?? {})) {
      if (Number.isSafeInteger(gseq) && gseq >= 0) positions[group] = gseq;
    }
    this.#session = {
      clientId: stored?.clientId ?? this.#options.clientId,
      resumeToken: stored?.resumeToken ?? null,
      lastSeq: Number.isSafeInteger(stored?.lastSeq) ? stored.lastSeq : 0,
      groups: Array.isArray(stored?.groups) ? stored.groups : [],
      positions,
    };
    if (this.#options.clientId && this.#session.clientId !== this.#options.clientId) {
      // Asked for another id than the stored one: the stored token and positions belong to the other id.
      this.#session = newSession(this.#options.clientId);
    }
  }

  #save() {
    try {
      this.#storage.setItem(this.#options.storageKey, JSON.stringify(this.#session));
    } catch {
      // Storage full or denied: the session still works, it just will not survive a reload.
    }
  }
}

/** A session that has seen nothing: no token, seq 0, no group. @param {string | null} clientId */
function newSession(clientId) {
  return { clientId, resumeToken: /** @type {string | null} */ (null), lastSeq: 0, groups: /** @type {string[]} */ ([]), positions: /** @type {Record<string, number>} */ ({}) };
}

function defaultUrl() {
  const { protocol, host } = globalThis.location;
  return `${protocol === "https:" ? "wss:" : "ws:"}//${host}/ws`;
}

function defaultStorage() {
  try {
    return globalThis.sessionStorage ?? memoryStorage();
  } catch {
    return memoryStorage(); // Denied (sandboxed frame, privacy settings).
  }
}

/** @returns {StorageLike} a storage that lives as long as the page. */
export function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => { items.set(key, String(value)); },
    removeItem: (key) => { items.delete(key); },
  };
}
