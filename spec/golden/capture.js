#!/usr/bin/env node
// Records what Google's own JS SDK (@google/genai) sends for a set of scenarios, as the
// reference for spec/map_golden_spec.lua.
//
// A tiny WebSocket server on 127.0.0.1 answers each `setup` with `setupComplete` and
// records every client frame; each scenario connects the SDK to it (Gemini API with an
// API key, Vertex AI with a project and location, Vertex express mode with a key),
// sends what the scenario says, and the frames go to spec/golden/<scenario>.json.
//
// Run:  node spec/golden/capture.js            (all scenarios)
//       node spec/golden/capture.js text_gemini (some)
// Modules come from spec/golden/node_modules, else spec/livesim/node_modules (same
// pinned versions: @google/genai 2.32.0, ws 8.18.3).
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function moduleDir(name) {
  for (const dir of ['node_modules', '../livesim/node_modules']) {
    const base = path.join(__dirname, dir);
    if (fs.existsSync(path.join(base, name))) return base;
  }
  throw new Error(`cannot find ${name}: run npm ci in spec/livesim`);
}

function load(name) {
  return createRequire(path.join(moduleDir(name), 'x.js'))(name);
}

const genai = load('@google/genai');
const { WebSocketServer } = load('ws');
const { OAuth2Client } = load('google-auth-library');
const SDK_VERSION = JSON.parse(fs.readFileSync(
  path.join(moduleDir('@google/genai'), '@google/genai/package.json'),
)).version;

// ---------------------------------------------------------------- the server

function startServer() {
  return new Promise((resolve) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    const state = { frames: [], paths: [], waiters: [] };
    wss.on('connection', (ws, req) => {
      state.paths.push(req.url);
      ws.on('message', (data, isBinary) => {
        const text = data.toString('utf8');
        const msg = JSON.parse(text);
        state.frames.push({ binary: isBinary, message: msg });
        if (msg.setup) {
          const reply = req.url.includes('aiplatform') ? { setupComplete: { sessionId: 'capture' } }
            : { setupComplete: {} };
          ws.send(Buffer.from(JSON.stringify(reply, null, 2) + '\n'), { binary: true });
        }
        state.waiters = state.waiters.filter((w) => !w());
      });
    });
    wss.on('listening', () => resolve({ wss, state, port: wss.address().port }));
  });
}

function waitFrames(state, n) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} frames`)), 3000);
    const check = () => {
      if (state.frames.length >= n) { clearTimeout(timer); resolve(); return true; }
      return false;
    };
    if (!check()) state.waiters.push(check);
  });
}

// ---------------------------------------------------------------- clients

function client(backend, port) {
  const httpOptions = { baseUrl: `http://127.0.0.1:${port}` };
  if (backend === 'gemini') return new genai.GoogleGenAI({ apiKey: 'capture-key', httpOptions });
  if (backend === 'vertex_express') {
    return new genai.GoogleGenAI({ vertexai: true, apiKey: 'capture-key', httpOptions });
  }
  // A ready access token, so that google-auth-library never goes to the network.
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'capture-token', expiry_date: Date.now() + 3600e3 });
  return new genai.GoogleGenAI({
    vertexai: true, project: 'proj', location: 'us-central1', httpOptions,
    googleAuthOptions: { authClient },
  });
}

// ---------------------------------------------------------------- scenarios

const M = genai.Modality;
const weatherTool = {
  functionDeclarations: [
    {
      name: 'get_weather', description: 'Current weather for a city',
      parameters: {
        type: 'OBJECT',
        properties: {
          city: { type: 'STRING', description: 'City name' },
          unit: { type: 'STRING', enum: ['C', 'F'] },
          days: { type: 'INTEGER' },
        },
        required: ['city'],
      },
    },
    { name: 'lookup', description: 'Looks something up' },
  ],
};

// Each scenario: backend(s), model, config for live.connect, and what to send after.
const setups = {
  minimal: { config: {} },
  full: {
    config: {
      responseModalities: [M.AUDIO],
      systemInstruction: 'You are a helpful assistant.',
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Puck' } } },
      maxOutputTokens: 1000, temperature: 0.7, topP: 0.9, topK: 40, seed: 7,
      tools: [weatherTool],
      inputAudioTranscription: {}, outputAudioTranscription: {},
      realtimeInputConfig: {
        automaticActivityDetection: {
          disabled: false,
          startOfSpeechSensitivity: genai.StartSensitivity.START_SENSITIVITY_HIGH,
          endOfSpeechSensitivity: genai.EndSensitivity.END_SENSITIVITY_LOW,
          prefixPaddingMs: 20, silenceDurationMs: 500,
        },
        activityHandling: genai.ActivityHandling.NO_INTERRUPTION,
      },
      contextWindowCompression: { triggerTokens: '25600', slidingWindow: { targetTokens: '12800' } },
    },
  },
  text_modality: { config: { responseModalities: [M.TEXT] } },
  vad_off: { config: { realtimeInputConfig: { automaticActivityDetection: { disabled: true } } } },
  compression_default: { config: { contextWindowCompression: { slidingWindow: {} } } },
  transcription_input_only: { config: { inputAudioTranscription: {} } },
  resumption_new: { config: { sessionResumption: {} } },
  resumption_handle: { config: { sessionResumption: { handle: 'prev-handle' } } },
  tools_no_params: { config: { tools: [{ functionDeclarations: [{ name: 'ping' }] }] } },
  // Built-in tools as entries of their own, function behaviours
  tools_builtin: {
    config: {
      tools: [
        { googleSearch: {} },
        { functionDeclarations: [
          { name: 'book', description: 'Books a table', behavior: genai.Behavior.NON_BLOCKING },
          { name: 'ping', behavior: genai.Behavior.BLOCKING },
        ] },
        { codeExecution: {} },
        { urlContext: {} },
      ],
    },
  },
  transcription_language: {
    config: { inputAudioTranscription: { languageCodes: ['de-DE', 'en-US'] } },
  },
  // What a transcription session sends: text out, the input transcribed, never interrupted
  transcription_session: {
    config: {
      responseModalities: [M.TEXT],
      inputAudioTranscription: { languageCodes: ['en-US'] },
      realtimeInputConfig: { activityHandling: genai.ActivityHandling.NO_INTERRUPTION },
    },
  },
  // The options that shape how the model answers (thinking, affective dialog, ...)
  thinking_budget: { config: { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } } },
  thinking_level: { config: { thinkingConfig: { thinkingLevel: genai.ThinkingLevel.LOW } } },
  affective_dialog: { config: { enableAffectiveDialog: true } },
  proactive_audio: { config: { proactivity: { proactiveAudio: true } } },
  media_resolution: { config: { mediaResolution: genai.MediaResolution.MEDIA_RESOLUTION_LOW } },
  speech_language: {
    config: { speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } }, languageCode: 'de-DE' } },
  },
  speech_language_only: { config: { speechConfig: { languageCode: 'en-US' } } },
  turn_coverage: {
    config: {
      realtimeInputConfig: {
        automaticActivityDetection: { disabled: false },
        turnCoverage: genai.TurnCoverage.TURN_INCLUDES_ALL_INPUT,
      },
    },
  },
  // historyConfig is a LiveClientSetup field; LiveConnectConfig has none, so the SDK's
  // live.connect drops it (the capture shows what it sends)
  history: { config: { historyConfig: { initialHistoryInClientContent: true } } },
};
// Vertex-only setups
const vertexSetups = {
  resumption_transparent: { config: { sessionResumption: { transparent: true } } },
  transcription_language_output: {
    config: { inputAudioTranscription: { languageCodes: ['de-DE'] }, outputAudioTranscription: {} },
  },
};

// Client messages after a minimal setup.
const sends = {
  text: (s) => s.sendRealtimeInput({ text: 'Hello there' }),
  image: (s) => s.sendRealtimeInput({ video: { data: 'AQID', mimeType: 'image/png' } }),
  image_trigger: (s) => {
    s.sendRealtimeInput({ video: { data: 'AQID', mimeType: 'image/png' } });
    s.sendRealtimeInput({ text: ' ' });
  },
  audio: (s) => s.sendRealtimeInput({ audio: { data: 'AAAAAA==', mimeType: 'audio/pcm;rate=16000' } }),
  audio_framed: (s) => {
    s.sendRealtimeInput({ activityStart: {} });
    s.sendRealtimeInput({ audio: { data: 'AAAAAA==', mimeType: 'audio/pcm;rate=16000' } });
    s.sendRealtimeInput({ activityEnd: {} });
  },
  audio_stream_end: (s) => {
    s.sendRealtimeInput({ audio: { data: 'AAAAAA==', mimeType: 'audio/pcm;rate=16000' } });
    s.sendRealtimeInput({ audioStreamEnd: true });
  },
  tool_response: (s) => s.sendToolResponse({
    functionResponses: [
      { id: 'call-1', name: 'get_weather', response: { forecast: 'rainy', celsius: 12 } },
      { id: 'call-2', name: 'lookup', response: { result: 'done', snake_case: { Inner: 1 } } },
    ],
  }),
  // A NON_BLOCKING function's result: how it is scheduled (and, Gemini only, that more
  // will follow); a binary result in base64, as the .NET seeds send byte arrays
  tool_response_scheduling: (s, backend) => s.sendToolResponse({
    functionResponses: [
      { id: 'call-1', name: 'book', response: { ok: true },
        scheduling: genai.FunctionResponseScheduling.WHEN_IDLE,
        ...(backend === 'gemini' ? { willContinue: true } : {}) },
      { id: 'call-2', name: 'ping', response: { result: '//4=' },
        scheduling: genai.FunctionResponseScheduling.SILENT },
    ],
  }),
  // Conversation history right after setup: every turn in one clientContent
  history: (s, backend) => s.sendClientContent({
    turns: [
      { role: 'user', parts: [{ text: 'Earlier the user asked about Paris.' }] },
      { role: 'user', parts: [{ text: 'What is the weather?' }] },
      { role: 'model', parts: [{ text: 'Sunny.' }] },
    ],
    turnComplete: backend === 'gemini',
  }),
  // An assistant turn as context, a complete user turn with an image, a bare turnComplete
  turns: (s) => {
    s.sendClientContent({ turns: [{ role: 'model', parts: [{ text: 'I said this.' }] }], turnComplete: false });
    s.sendClientContent({
      turns: [{ role: 'user', parts: [{ text: 'What is this?' }, { inlineData: { mimeType: 'image/png', data: 'AQID' } }] }],
      turnComplete: true,
    });
    s.sendClientContent({ turnComplete: true });
  },
};

function scenarioList() {
  const list = [];
  for (const [name, sc] of Object.entries(setups)) {
    for (const backend of ['gemini', 'vertex']) list.push({ name: `setup_${name}_${backend}`, backend, ...sc });
  }
  for (const [name, sc] of Object.entries(vertexSetups)) {
    list.push({ name: `setup_${name}_vertex`, backend: 'vertex', ...sc });
  }
  list.push({ name: 'setup_minimal_vertex_express', backend: 'vertex_express', config: {} });
  list.push({ name: 'setup_model_resource_vertex', backend: 'vertex', config: {},
    model: 'projects/other/locations/europe-west4/publishers/google/models/gemini-live-2.5-flash' });
  list.push({ name: 'setup_model_publisher_vertex', backend: 'vertex', config: {},
    model: 'google/gemini-live-2.5-flash' });
  list.push({ name: 'setup_model_prefixed_gemini', backend: 'gemini', config: {},
    model: 'models/gemini-live-2.5-flash' });
  for (const [name, send] of Object.entries(sends)) {
    for (const backend of ['gemini', 'vertex']) {
      // the history goes out after a setup that asks for it (on the Gemini API)
      const config = name === 'history' && backend === 'gemini' ? setups.history.config : {};
      list.push({ name: `client_${name}_${backend}`, backend, config, send });
    }
  }
  return list;
}

async function run(sc) {
  const { wss, state, port } = await startServer();
  try {
    const ai = client(sc.backend, port);
    const session = await ai.live.connect({
      model: sc.model || 'gemini-live-2.5-flash',
      config: JSON.parse(JSON.stringify(sc.config)),
      callbacks: { onmessage: () => {} },
    });
    const before = state.frames.length;
    if (sc.send) {
      const count = { n: 0 };
      const proxy = new Proxy(session, {
        get(target, prop) {
          const v = target[prop];
          if (typeof v !== 'function') return v;
          return (...args) => { count.n++; return v.apply(target, args); };
        },
      });
      sc.send(proxy, sc.backend);
      await waitFrames(state, before + count.n);
    }
    session.close();
    return {
      scenario: sc.name,
      backend: sc.backend,
      sdk: `@google/genai ${SDK_VERSION}`,
      path: state.paths[0].replace(/key=[^&]*/, 'key=<redacted>'),
      frames: state.frames.map((f) => f.message),
      binary: state.frames.some((f) => f.binary),
    };
  } finally {
    await new Promise((r) => wss.close(r));
  }
}

async function main() {
  const only = process.argv.slice(2);
  let failed = 0;
  for (const sc of scenarioList()) {
    if (only.length && !only.includes(sc.name)) continue;
    try {
      const out = await run(sc);
      fs.writeFileSync(path.join(__dirname, `${sc.name}.json`), JSON.stringify(out, null, 2) + '\n');
      console.log(`ok ${sc.name} (${out.frames.length} frames)`);
    } catch (e) {
      failed++;
      console.log(`not ok ${sc.name}: ${e.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
}

main();
