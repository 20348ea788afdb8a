// The storyteller web client (docs/protocol.md, protocol v1). No framework: one file.
//
// What the player typed is never lost: every line goes into localStorage before it is
// sent, shows as pending → saved (acked: durable on the server) → answered, and is
// sent again in order after a reload or a reconnect (the server acks a known
// clientInputId again and never plays it twice). The connection comes back with
// exponential backoff and full jitter.
'use strict';

(() => {
  const PROTOCOL_VERSION = 1;
  const STORE_KEY = 'storyteller:v1';
  const MAX_ENTRIES = 600;
  const params = new URLSearchParams(location.search);
  const BACKOFF_BASE_MS = Number(params.get('backoffBaseMs') ?? 500);
  const BACKOFF_MAX_MS = Number(params.get('backoffMaxMs') ?? 15000);

  const $ = (id) => document.getElementById(id);
  const story = $('story');
  const announce = $('announce');
  const status = $('status');
  const form = $('input-form');
  const line = $('line');
  const choose = $('choose');

  /**
   * Persisted state: the token (bound to the session once there is one), the session,
   * the lines typed (with their state) and the transcript to draw after a reload.
   * @type {{ token: string|null, sessionId: string|null, seq: number, device: string,
   *          lines: Array<{clientInputId: string, text: string, state: string, inputId?: number, turn?: number|null}>,
   *          entries: Array<{kind: string, text: string, ref?: string, name?: string, sceneIndex?: number}>, ended: boolean }}
   */
  const state = load();
  let ws = null;
  let ready = false;
  let attempt = 0;
  let heartbeat = null;
  let reconnectTimer = null;
  let lastSceneIndex = null;
  let wantNew = false;
  // Lines waiting to be sent, in order; at most MAX_UNACKED on the wire at once (the server's
  // rate limit allows a burst of 40 frames).
  const MAX_UNACKED = 16;
  // Codes that refuse a line for now, not for good: it is sent again, in order, after a pause.
  const RETRYABLE = new Set(['STORAGE_UNAVAILABLE', 'ENGINE_SHUTTING_DOWN', 'RATE_LIMITED', 'LEDGER_WRITE_FAILED']);
  let outbox = [];
  /** Lines sent on this connection, not yet acked or refused. */
  const onWire = new Set();
  let retryTimer = null;
  let retries = 0;
  let paceTimer = null;
  // The client's own token bucket, below the rate the server announces in welcome.
  let bucket = { tokens: 0, at: 0, perMs: 0, burst: 0 };
  /** clientInputId → the <p> its narration streams into. */
  const streaming = new Map();

  function load() {
    try {
      const raw = JSON.parse(localStorage.getItem(STORE_KEY) ?? 'null');
      if (raw && Array.isArray(raw.lines) && Array.isArray(raw.entries)) return raw;
    } catch {
      // a damaged store starts over
    }
    return { token: null, sessionId: null, seq: 0, device: Math.random().toString(36).slice(2, 10), lines: [], entries: [], ended: false };
  }

  function save() {
    if (state.entries.length > MAX_ENTRIES) state.entries.splice(0, state.entries.length - MAX_ENTRIES);
    const unanswered = state.lines.filter((l) => l.state === 'pending' || l.state === 'saved');
    const answered = state.lines.filter((l) => l.state !== 'pending' && l.state !== 'saved').slice(-200);
    state.lines = [...answered, ...unanswered].sort((a, b) => seqOf(a) - seqOf(b));
    localStorage.setItem(STORE_KEY, JSON.stringify(state));
  }
  const seqOf = (l) => Number(l.clientInputId.split('-').pop());

  // ------------------------------------------------------------------ drawing

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** Draws one transcript entry; `place` puts its elements into the page (default: at the end). */
  function drawEntry(entry, place = (nodes) => story.append(...nodes)) {
    if (entry.kind === 'scene') {
      lastSceneIndex = entry.sceneIndex ?? lastSceneIndex;
      const nodes = [el('h2', 'scene', entry.name ?? entry.ref ?? '')];
      if (entry.text) nodes.push(el('p', 'scene-description', entry.text));
      place(nodes);
    } else if (entry.kind === 'you') {
      const p = el('p', 'you');
      p.dataset.clientInputId = entry.ref;
      p.append(el('span', 'text', `> ${entry.text}`), el('span', 'state', ''));
      place([p]);
      const l = state.lines.find((x) => x.clientInputId === entry.ref);
      showLineState(entry.ref, l ? l.state : 'answered');
    } else if (entry.kind === 'prose') {
      const p = el('p', 'prose', entry.text);
      p.dataset.clientInputId = entry.ref;
      p.dataset.done = 'true';
      place([p]);
    } else if (entry.kind === 'end') {
      place([el('p', 'the-end', 'THE END')]);
    } else {
      place([el('p', 'note', entry.text)]);
    }
  }

  /** The line whose turn runs (or ran last): its gate/goal notes and a scene heading after it belong under it. */
  let turnRef = null;

  /**
   * Where a new entry goes, so that each answer stands under its own input even when
   * lines resent together after an outage are all shown before their answers come:
   * an answer right after its input (and that input's earlier prose); a scene heading or
   * a gate/goal note after the block of the line whose turn runs (before the next input shown);
   * anything else (what the player typed, local notes) at the end. The same rule orders the DOM and the stored transcript.
   * `items` are {you: ref|null, prose: ref|null}; returns the index to insert before.
   */
  function insertAt(items, entry) {
    const ref = entry.kind === 'prose' ? entry.ref : entry.kind === 'scene' || entry.afterAnswer ? turnRef : null;
    if (!ref) return items.length;
    const at = items.findIndex((x) => x.you === ref);
    if (at < 0) return items.length;
    let i = at + 1;
    if (entry.kind === 'prose') while (i < items.length && items[i].prose === ref) i += 1;
    else while (i < items.length && items[i].you === null) i += 1;
    return i;
  }

  function placeAnswer(p, clientInputId) {
    placeNodes([p], { kind: 'prose', ref: clientInputId });
  }

  function placeNodes(nodes, entry) {
    const children = [...story.children];
    const items = children.map((c) => ({ you: c.classList.contains('you') ? c.dataset.clientInputId : null, prose: c.classList.contains('prose') ? c.dataset.clientInputId : null }));
    const i = insertAt(items, entry);
    if (i >= children.length) story.append(...nodes);
    else children[i].before(...nodes);
  }

  function add(entry, { speak = false } = {}) {
    const i = insertAt(state.entries.map((e) => ({ you: e.kind === 'you' ? e.ref : null, prose: e.kind === 'prose' ? e.ref : null })), entry);
    state.entries.splice(i, 0, entry);
    save();
    drawEntry(entry, (nodes) => placeNodes(nodes, entry));
    if (speak) announce.textContent = entry.kind === 'scene' ? `${entry.name}. ${entry.text}` : entry.text;
    story.lastElementChild?.scrollIntoView({ block: 'end' });
  }

  const LABELS = { pending: 'pending', saved: 'saved', answered: 'answered', refused: 'not accepted' };
  function showLineState(clientInputId, s) {
    const p = story.querySelector(`.you[data-client-input-id="${CSS.escape(clientInputId)}"]`);
    if (!p) return;
    p.dataset.state = s;
    p.querySelector('.state').textContent = `(${LABELS[s] ?? s})`;
  }

  function setLine(clientInputId, patch) {
    const l = state.lines.find((x) => x.clientInputId === clientInputId);
    if (!l) return null;
    Object.assign(l, patch);
    save();
    if (patch.state) showLineState(clientInputId, patch.state);
    return l;
  }

  function setStatus(text, offline = false) {
    status.textContent = text;
    status.classList.toggle('offline', offline);
  }

  // ------------------------------------------------------------------ connection

  function connect() {
    clearTimeout(reconnectTimer);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      attempt = 0;
      send({ type: 'hello', v: PROTOCOL_VERSION, ...(state.token ? { token: state.token } : {}), client: 'web' });
    };
    ws.onmessage = (m) => {
      let frame;
      try {
        frame = JSON.parse(m.data);
      } catch {
        return;
      }
      onFrame(frame);
    };
    ws.onclose = (e) => {
      ready = false;
      clearInterval(heartbeat);
      if (e.code === 4401 && state.token) {
        // The server does not know this token (another secret): start as a new player.
        state.token = null;
        state.sessionId = null;
        save();
      }
      const pending = state.lines.filter((l) => l.state === 'pending').length;
      // Full jitter: anywhere between 0 and the capped exponential delay.
      // 4503 / 4409: the session moved (graceful shutdown, another instance): come back soon, not after a long backoff.
      const moved = e.code === 4503 || e.code === 4409;
      const cap = moved ? BACKOFF_BASE_MS : Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
      const delay = Math.round(Math.random() * cap);
      attempt += 1;
      setStatus(`Offline — reconnecting${pending ? ` (${pending} line${pending > 1 ? 's' : ''} kept)` : ''}…`, true);
      reconnectTimer = setTimeout(connect, delay);
    };
    ws.onerror = () => {};
  }

  function send(frame, counted = true) {
    // Frames other than inputs (hello, ping, hint, save) are few: counted, never held.
    if (counted) take(true);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function onFrame(f) {
    switch (f.type) {
      case 'welcome': {
        const rate = f.rate ?? { perSecond: 20, burst: 40 };
        const burst = Math.max(1, Math.floor(rate.burst * 0.8) - 2);
        bucket = { tokens: burst - 1, at: performance.now(), perMs: (rate.perSecond * 0.8) / 1000, burst };
        state.token = f.token;
        save();
        clearInterval(heartbeat);
        heartbeat = setInterval(() => send({ type: 'ping', t: Date.now() }), Math.max(1000, Math.floor(f.heartbeatMs / 3)));
        if (wantNew) {
          send({ type: 'session.start' });
        } else if (state.sessionId && f.sessionId === state.sessionId) {
          setStatus('Resuming your game…');
          send({ type: 'session.resume', sessionId: state.sessionId });
        } else {
          showChoice();
        }
        return;
      }
      case 'session.ready':
        ready = true;
        wantNew = false;
        state.token = f.token;
        state.sessionId = f.sessionId;
        save();
        choose.hidden = true;
        form.hidden = false;
        setStatus(f.resumed ? 'Connected (game resumed)' : 'Connected');
        if (document.activeElement === document.body || document.activeElement?.tagName === 'BUTTON') line.focus();
        resend();
        return;
      case 'ack':
        setLine(f.clientInputId, { state: isAnswered(f.clientInputId) ? 'answered' : 'saved', inputId: f.inputId, turn: f.turn });
        if (onWire.delete(f.clientInputId)) retries = 0;
        pump();
        return;
      case 'turn.started': {
        const l = state.lines.find((x) => x.inputId === f.inputId);
        if (l) turnRef = l.clientInputId;
        return;
      }
      case 'narrative.chunk': {
        const l = state.lines.find((x) => x.inputId === f.inputId);
        if (!l || l.state === 'answered') return;
        let p = streaming.get(l.clientInputId);
        if (!p) {
          p = el('p', 'prose');
          p.dataset.clientInputId = l.clientInputId;
          streaming.set(l.clientInputId, p);
          placeAnswer(p, l.clientInputId);
        }
        p.textContent += f.text;
        p.scrollIntoView({ block: 'end' });
        return;
      }
      case 'narrative.done': {
        const l = state.lines.find((x) => x.clientInputId === f.clientInputId);
        if (l && l.state === 'answered') return; // answered exactly once
        streaming.get(f.clientInputId)?.remove();
        streaming.delete(f.clientInputId);
        if (l) setLine(f.clientInputId, { state: 'answered', inputId: f.inputId, turn: f.turn });
        add({ kind: 'prose', ref: f.clientInputId, text: f.text ?? '(This was answered while you were away; the narration was not kept.)' }, { speak: true });
        return;
      }
      case 'scene.entered':
        if (f.sceneIndex === lastSceneIndex) return;
        add({ kind: 'scene', ref: f.scene, name: f.name ?? f.scene, text: f.description ?? '', sceneIndex: f.sceneIndex }, { speak: true });
        return;
      case 'deferred.applied':
        add({ kind: 'note', text: `~ ${f.text}` }, { speak: true });
        return;
      case 'gate.fired':
        add({ kind: 'note', text: `◆ revealed: ${f.gateId}`, afterAnswer: true });
        return;
      case 'goal.fired':
        add({ kind: 'note', text: `★ goal complete: ${f.description}`, afterAnswer: true }, { speak: true });
        return;
      case 'hint':
        add({ kind: 'note', text: f.text ? `Hint: ${f.text}` : 'No hint here — look around, and talk to people.' }, { speak: true });
        return;
      case 'saved':
        add({ kind: 'note', text: `Saved (checkpoint ${f.checkpointId.slice(0, 8)}).` }, { speak: true });
        return;
      case 'session.state':
        if (f.lifecycle === 'ended' && !state.ended) {
          state.ended = true;
          add({ kind: 'end', text: 'THE END' }, { speak: true });
          form.hidden = true;
          showChoice();
        }
        return;
      case 'error':
        onError(f);
        return;
      default:
        return;
    }
  }

  function isAnswered(clientInputId) {
    return state.lines.find((x) => x.clientInputId === clientInputId)?.state === 'answered';
  }

  function onError(f) {
    if (f.clientInputId) {
      onWire.delete(f.clientInputId);
      // Not saved (yet), or outcome unknown: keep the line; it is sent again after a pause.
      if (RETRYABLE.has(f.code)) {
        const first = !retryTimer;
        retryLater(f.clientInputId);
        if (first && f.code !== 'RATE_LIMITED') add({ kind: 'note', text: 'The server could not save that yet; it will be sent again.' });
        return;
      }
      pump();
      setLine(f.clientInputId, { state: 'refused' });
      add({ kind: 'note', text: `Not accepted — ${f.message} (${f.code})` }, { speak: true });
      return;
    }
    if (f.ref === 'session.resume' && (f.code === 'SESSION_NOT_FOUND' || f.code === 'SESSION_NOT_PLAYING' || f.code === 'AUTH_FORBIDDEN')) {
      state.sessionId = null;
      save();
      showChoice();
      return;
    }
    add({ kind: 'note', text: `${f.message} (${f.code})` });
  }

  /** After (re)connecting: every line not yet answered, in the order typed. */
  function resend() {
    onWire.clear();
    clearTimeout(retryTimer);
    retryTimer = null;
    retries = 0;
    outbox = state.lines.filter((l) => l.state === 'pending' || l.state === 'saved').map((l) => l.clientInputId);
    pump();
  }

  /**
   * A line refused for now goes back into the outbox at its place in the order typed (the
   * server refuses the lines sent after it too, so none overtakes it); sending pauses for a
   * backoff with jitter, then goes on over the same connection.
   */
  function retryLater(clientInputId) {
    const l = state.lines.find((x) => x.clientInputId === clientInputId);
    if (!l || (l.state !== 'pending' && l.state !== 'saved')) return;
    if (!outbox.includes(clientInputId)) {
      outbox.push(clientInputId);
      outbox.sort((a, b) => Number(a.split('-').pop()) - Number(b.split('-').pop()));
    }
    if (retryTimer) return;
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** retries);
    retries += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      pump();
    }, Math.round(cap / 2 + Math.random() * (cap / 2)));
  }

  function take(force) {
    const now = performance.now();
    bucket.tokens = Math.min(bucket.burst, bucket.tokens + (now - bucket.at) * bucket.perMs);
    bucket.at = now;
    if (bucket.tokens < 1 && !force) return false;
    bucket.tokens -= 1;
    return true;
  }

  function pump() {
    while (ready && !retryTimer && outbox.length > 0 && onWire.size < MAX_UNACKED) {
      const id = outbox[0];
      const l = state.lines.find((x) => x.clientInputId === id);
      if (!l || (l.state !== 'pending' && l.state !== 'saved') || onWire.has(id)) {
        outbox.shift();
        continue;
      }
      if (!take(false)) {
        if (!paceTimer) paceTimer = setTimeout(() => {
          paceTimer = null;
          pump();
        }, Math.ceil((1 - bucket.tokens) / bucket.perMs));
        return;
      }
      outbox.shift();
      send({ type: 'input', clientInputId: l.clientInputId, text: l.text }, false);
      onWire.add(id);
    }
  }

  function showChoice() {
    choose.hidden = false;
    form.hidden = true;
    const resumable = state.sessionId && !state.ended;
    $('continue').hidden = !resumable;
    $('choose-text').textContent = resumable ? 'You have a game in progress.' : 'Start the story.';
    setStatus('Connected');
    (resumable ? $('continue') : $('new-game')).focus();
  }

  $('continue').addEventListener('click', () => {
    setStatus('Resuming your game…');
    send({ type: 'session.resume', sessionId: state.sessionId });
  });
  $('new-game').addEventListener('click', () => {
    // A new game: keep the player, forget the old session's lines and transcript.
    Object.assign(state, { sessionId: null, lines: [], entries: [], ended: false });
    save();
    story.replaceChildren();
    streaming.clear();
    lastSceneIndex = null;
    wantNew = true;
    if (ws && ws.readyState === WebSocket.OPEN && !ready) {
      send({ type: 'session.start' });
      return;
    }
    // A connection plays one session: the next one starts the new game.
    attempt = 0;
    ws?.close();
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = line.value.trim();
    line.value = '';
    if (!text) return;
    if (text === '/help') {
      add({ kind: 'note', text: HELP });
      return;
    }
    if (text === '/hint') {
      if (ready) send({ type: 'hint' });
      else add({ kind: 'note', text: 'Offline: the hint comes when the connection is back.' });
      return;
    }
    if (text === '/save') {
      if (ready) send({ type: 'save' });
      else add({ kind: 'note', text: 'Offline: nothing to save to right now; what you type is kept.' });
      return;
    }
    state.seq += 1;
    const clientInputId = `w-${state.device}-${state.seq}`;
    state.lines.push({ clientInputId, text, state: 'pending' });
    add({ kind: 'you', ref: clientInputId, text });
    outbox.push(clientInputId);
    pump();
  });

  const HELP = `Talk and act in plain words, for example:
  look · examine the tide table · ask Ewan about the light
  give the letter to Ada · take the key · go to the inn · say "who are you?"
Commands: /hint (a nudge), /save (a checkpoint), /help`;

  // The page's own files, kept for a reload while the server is down.
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});

  // Draw what this browser already has, then connect.
  for (const entry of state.entries) drawEntry(entry);
  if (state.ended) form.hidden = true;
  connect();
})();
