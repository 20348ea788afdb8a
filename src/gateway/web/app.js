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
  let outbox = [];
  let unacked = 0;
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

  function drawEntry(entry) {
    if (entry.kind === 'scene') {
      lastSceneIndex = entry.sceneIndex ?? lastSceneIndex;
      const h = el('h2', 'scene', entry.name ?? entry.ref ?? '');
      story.append(h);
      if (entry.text) story.append(el('p', 'scene-description', entry.text));
    } else if (entry.kind === 'you') {
      const p = el('p', 'you');
      p.dataset.clientInputId = entry.ref;
      p.append(el('span', 'text', `> ${entry.text}`), el('span', 'state', ''));
      story.append(p);
      const l = state.lines.find((x) => x.clientInputId === entry.ref);
      showLineState(entry.ref, l ? l.state : 'answered');
    } else if (entry.kind === 'prose') {
      const p = el('p', 'prose', entry.text);
      p.dataset.clientInputId = entry.ref;
      p.dataset.done = 'true';
      story.append(p);
    } else if (entry.kind === 'end') {
      story.append(el('p', 'the-end', 'THE END'));
    } else {
      story.append(el('p', 'note', entry.text));
    }
  }

  function add(entry, { speak = false } = {}) {
    state.entries.push(entry);
    save();
    drawEntry(entry);
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

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function onFrame(f) {
    switch (f.type) {
      case 'welcome':
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
        unacked = Math.max(0, unacked - 1);
        pump();
        return;
      case 'narrative.chunk': {
        const l = state.lines.find((x) => x.inputId === f.inputId);
        if (!l || l.state === 'answered') return;
        let p = streaming.get(l.clientInputId);
        if (!p) {
          p = el('p', 'prose');
          p.dataset.clientInputId = l.clientInputId;
          streaming.set(l.clientInputId, p);
          story.append(p);
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
        add({ kind: 'note', text: `◆ revealed: ${f.gateId}` });
        return;
      case 'goal.fired':
        add({ kind: 'note', text: `★ goal complete: ${f.description}` }, { speak: true });
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
      unacked = Math.max(0, unacked - 1);
      pump();
      // Not saved, outcome unknown: keep the line; it is sent again on the next connection.
      if (f.code === 'STORAGE_UNAVAILABLE' || f.code === 'ENGINE_SHUTTING_DOWN') {
        add({ kind: 'note', text: 'The server could not save that yet; it will be sent again.' });
        return;
      }
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
    unacked = 0;
    outbox = state.lines.filter((l) => l.state === 'pending' || l.state === 'saved').map((l) => l.clientInputId);
    pump();
  }

  function pump() {
    while (ready && outbox.length > 0 && unacked < MAX_UNACKED) {
      const l = state.lines.find((x) => x.clientInputId === outbox[0]);
      outbox.shift();
      if (!l || (l.state !== 'pending' && l.state !== 'saved')) continue;
      send({ type: 'input', clientInputId: l.clientInputId, text: l.text });
      unacked += 1;
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
