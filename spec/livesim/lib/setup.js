'use strict';
// Validation of the `setup` message against the fields the Live API knows, per backend, and
// derivation of the session configuration the simulator acts on.
const { invalid, policy } = require('./errors');
const { toCamel, toSnake } = require('./casing');
const transcripts = require('./transcripts');

// Schema node constructors. `only` marks fields that exist on one backend's proto only: on the
// other backend they are unknown names, exactly like any misspelt field.
const STR = { t: 'string' };
const NUM = { t: 'number' };
// int32 fields: a proto3 JSON parser takes integral numbers (or their strings) in range only.
const INT32 = { t: 'int32' };
// An integer field whose width none of our sources states: any integer.
const INT = { t: 'int' };
const BOOL = { t: 'bool' };
const INT64 = { t: 'int64' };
const BYTES = { t: 'bytes' };
const ANY = { t: 'any' };
const obj = (fields) => ({ t: 'object', fields });
const arr = (item) => ({ t: 'array', item });
const map = (value) => ({ t: 'map', value });
const enm = (name, ...values) => ({ t: 'enum', name, values: new Set(values) });
const only = (backend, node) => ({ ...node, backend });
// Fields the Gemini Developer API knows in v1alpha only: on v1beta and v1 the service closes with
// 1007 "Unknown name", even when the value is false or empty. Vertex takes them.
const alphaOnGemini = (node) => ({ ...node, geminiAlpha: true });
// A field whose type differs between the backends' protos.
const perBackend = (gemini, vertex) => ({ t: 'backend', gemini, vertex });

// google.ai.generativelanguage Schema as @google/genai declares it (OpenAPI subset; type names
// are the Type enum's, upper case). Field names are proto names, so either casing is taken;
// property names under `properties` are the user's and stay verbatim.
const SCHEMA = obj({
  type: enm('Type', 'TYPE_UNSPECIFIED', 'STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL'),
  format: STR, title: STR, description: STR, nullable: BOOL, enum: arr(STR),
  maxItems: INT64, minItems: INT64, required: arr(STR), minProperties: INT64, maxProperties: INT64,
  minLength: INT64, maxLength: INT64, pattern: STR, example: ANY, default: ANY,
  propertyOrdering: arr(STR), minimum: NUM, maximum: NUM,
});
SCHEMA.fields.anyOf = arr(SCHEMA);
SCHEMA.fields.items = SCHEMA;
SCHEMA.fields.properties = map(SCHEMA);

// Content parts (Part in @google/genai); the reference's Gemini/Vertex-only fields are marked.
const BLOB = obj({ mimeType: STR, data: BYTES, displayName: only('vertex', STR) });
const FUNCTION_RESPONSE = obj({
  id: STR, name: STR, response: map(ANY),
  parts: arr(obj({ inlineData: BLOB, fileData: obj({ fileUri: STR, mimeType: STR, displayName: only('vertex', STR) }), mediaProcessing: ANY })),
  scheduling: enm('FunctionResponseScheduling', 'SCHEDULING_UNSPECIFIED', 'SILENT', 'WHEN_IDLE', 'INTERRUPT'),
  willContinue: only('gemini', BOOL),
});
const PART = obj({
  text: STR, thought: BOOL, thoughtSignature: STR, inlineData: BLOB,
  fileData: obj({ fileUri: STR, mimeType: STR, displayName: only('vertex', STR) }),
  functionCall: obj({ id: STR, name: STR, args: map(ANY), partialArgs: only('vertex', ANY), willContinue: only('vertex', BOOL) }),
  functionResponse: FUNCTION_RESPONSE,
  executableCode: obj({ code: STR, language: enm('Language', 'LANGUAGE_UNSPECIFIED', 'PYTHON'), id: STR }),
  codeExecutionResult: obj({
    outcome: enm('Outcome', 'OUTCOME_UNSPECIFIED', 'OUTCOME_OK', 'OUTCOME_FAILED', 'OUTCOME_DEADLINE_EXCEEDED'),
    output: STR, id: STR,
  }),
  videoMetadata: obj({ startOffset: STR, endOffset: STR, fps: NUM }),
  mediaResolution: ANY, audioTranscription: ANY, mediaProcessing: ANY, speechMetadata: ANY,
  toolCall: only('gemini', ANY), toolResponse: only('gemini', ANY), partMetadata: only('gemini', ANY),
});
const CONTENT = obj({ role: STR, parts: arr(PART) });

const REALTIME_INPUT = obj({
  audio: BLOB, video: BLOB, text: STR, activityStart: obj({}), activityEnd: obj({}),
  audioStreamEnd: only('gemini', BOOL), mediaChunks: arr(BLOB),
});

const TRANSCRIPTION = obj({
  languageCodes: arr(STR), customVocabulary: arr(STR), wordTimestamp: BOOL, diarization: BOOL,
  mode: enm('AudioTranscriptionConfigMode', 'MODE_UNSPECIFIED', 'VERBATIM', 'SMART'),
  // Deprecated fields the SDK still declares.
  languageAuto: ANY, languageHints: ANY, adaptationPhrases: arr(STR),
});

const SETUP = obj({
  model: STR,
  generationConfig: obj({
    responseModalities: arr(enm('Modality', 'MODALITY_UNSPECIFIED', 'TEXT', 'IMAGE', 'AUDIO', 'VIDEO')),
    speechConfig: obj({
      voiceConfig: obj({ prebuiltVoiceConfig: obj({ voiceName: STR }), replicatedVoiceConfig: ANY, voice: STR }),
      languageCode: STR,
      multiSpeakerVoiceConfig: ANY,
    }),
        // Gemini's GenerationConfig has int32 top_k, Vertex's a float top_k.
    temperature: NUM, topP: NUM, topK: perBackend(INT32, NUM), maxOutputTokens: INT32, seed: INT32,
    candidateCount: INT32,
    presencePenalty: NUM, frequencyPenalty: NUM,
    mediaResolution: enm('MediaResolution', 'MEDIA_RESOLUTION_UNSPECIFIED', 'MEDIA_RESOLUTION_LOW',
      'MEDIA_RESOLUTION_MEDIUM', 'MEDIA_RESOLUTION_HIGH'),
    thinkingConfig: obj({
      includeThoughts: BOOL, thinkingBudget: INT,
      thinkingLevel: enm('ThinkingLevel', 'THINKING_LEVEL_UNSPECIFIED', 'MINIMAL', 'LOW', 'MEDIUM', 'HIGH'),
    }),
    enableAffectiveDialog: alphaOnGemini(BOOL),
    translationConfig: only('gemini', obj({ targetLanguageCode: STR, echoTargetLanguage: BOOL })),
  }),
  systemInstruction: CONTENT,
  tools: arr(obj({
    functionDeclarations: arr(obj({
      // The *JsonSchema fields take any JSON Schema (reference §2.1, SDK docs).
      name: STR, description: STR, parameters: SCHEMA, parametersJsonSchema: ANY,
      response: SCHEMA, responseJsonSchema: ANY,
      behavior: enm('Behavior', 'UNSPECIFIED', 'BLOCKING', 'NON_BLOCKING'),
    })),
    googleSearch: obj({
      searchTypes: ANY, timeRangeFilter: ANY,
      blockingConfidence: only('vertex', STR), excludeDomains: only('vertex', arr(STR)),
    }),
    googleSearchRetrieval: ANY, codeExecution: obj({}), urlContext: obj({}),
    googleMaps: ANY, computerUse: ANY,
    // McpServer's fields are Gemini's only (reference §2.5): Vertex knows none of them.
    mcpServers: arr(obj({ name: only('gemini', STR), streamableHttpTransport: only('gemini', ANY) })),
    fileSearch: only('gemini', ANY),
    retrieval: only('vertex', ANY), enterpriseWebSearch: only('vertex', ANY),
    parallelAiSearch: only('vertex', ANY), exaAiSearch: only('vertex', ANY),
  })),
  realtimeInputConfig: obj({
    automaticActivityDetection: obj({
      disabled: BOOL,
      startOfSpeechSensitivity: enm('StartSensitivity', 'START_SENSITIVITY_UNSPECIFIED',
        'START_SENSITIVITY_HIGH', 'START_SENSITIVITY_LOW'),
      endOfSpeechSensitivity: enm('EndSensitivity', 'END_SENSITIVITY_UNSPECIFIED',
        'END_SENSITIVITY_HIGH', 'END_SENSITIVITY_LOW'),
      prefixPaddingMs: INT32, silenceDurationMs: INT32,
    }),
    activityHandling: enm('ActivityHandling', 'ACTIVITY_HANDLING_UNSPECIFIED',
      'START_OF_ACTIVITY_INTERRUPTS', 'NO_INTERRUPTION'),
    turnCoverage: enm('TurnCoverage', 'TURN_COVERAGE_UNSPECIFIED', 'TURN_INCLUDES_ONLY_ACTIVITY',
      'TURN_INCLUDES_ALL_INPUT', 'TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO'),
    interimTranscriptTimestampEnabled: BOOL,
  }),
  sessionResumption: obj({ handle: STR, transparent: only('vertex', BOOL) }),
  contextWindowCompression: obj({ triggerTokens: INT64, slidingWindow: obj({ targetTokens: INT64 }) }),
  inputAudioTranscription: TRANSCRIPTION,
  outputAudioTranscription: TRANSCRIPTION,
  proactivity: alphaOnGemini(obj({ proactiveAudio: BOOL })),
  explicitVadSignal: only('vertex', BOOL),
  // Vertex does not take historyConfig (its history turns are sent with turnComplete false).
  historyConfig: only('gemini', obj({ initialHistoryInClientContent: BOOL })),
  avatarConfig: ANY,
  safetySettings: arr(obj({ category: STR, threshold: STR, method: only('vertex', STR) })),
  labels: map(STR),
});

const snakePath = (path) => path.split('.').map(toSnake).join('.');

function unknownName(name, path) {
  return invalid(`Invalid JSON payload received. Unknown name "${toSnake(name)}" at '${snakePath(path)}': Cannot find field.`);
}

function badValue(path, kind, value) {
  const shown = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value)?.slice(0, 40);
  return invalid(`Invalid JSON payload received. Invalid value at '${snakePath(path)}' (${kind}), ${shown}`);
}

const isInt = (v) => Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v));
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const isInt32 = (v) => isInt(v) && Number(v) >= INT32_MIN && Number(v) <= INT32_MAX;

// Whether a schema field exists where the message was sent (backend, and API version on Gemini).
function knownHere(child, backend, apiVersion) {
  if (!child || (child.backend && child.backend !== backend)) return false;
  return !(child.geminiAlpha && backend === 'gemini' && apiVersion !== 'v1alpha');
}

// Throws a CloseError describing the first problem found, in the real service's wording.
// `apiVersion` matters for setup fields only; other messages have no version-gated fields.
function check(value, node, path, backend, apiVersion) {
  switch (node.t) {
    case 'any': return;
    case 'string': if (typeof value !== 'string') throw badValue(path, 'TYPE_STRING', value); return;
    case 'bytes':
      // Its base64 is checked where the data is decoded.
      if (typeof value !== 'string') throw invalid(`Invalid value at '${snakePath(path)}' (TYPE_BYTES), Base64 decoding failed.`);
      return;
    case 'bool': if (typeof value !== 'boolean') throw badValue(path, 'TYPE_BOOL', value); return;
    case 'number':
      if (typeof value !== 'number' && !(typeof value === 'string' && value !== '' && !isNaN(Number(value)))) {
        throw badValue(path, 'TYPE_FLOAT', value);
      }
      return;
    case 'int': if (!isInt(value)) throw badValue(path, 'TYPE_INT32', value); return;
    case 'int32': if (!isInt32(value)) throw badValue(path, 'TYPE_INT32', value); return;
    case 'backend': check(value, node[backend], path, backend, apiVersion); return;
    case 'int64': if (!isInt(value)) throw badValue(path, 'TYPE_INT64', value); return;
    case 'enum':
      if (!node.values.has(value)) throw badValue(path, `type.googleapis.com/${node.name}`, value);
      return;
    case 'array':
      if (!Array.isArray(value)) throw badValue(path, 'TYPE_MESSAGE', value);
      value.forEach((v, i) => check(v, node.item, `${path}[${i}]`, backend, apiVersion));
      return;
    case 'map':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw badValue(path, 'TYPE_MESSAGE', value);
      }
      for (const [k, v] of Object.entries(value)) check(v, node.value, `${path}[${JSON.stringify(k)}]`, backend, apiVersion);
      return;
    case 'object':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw badValue(path, 'TYPE_MESSAGE', value);
      }
      for (const key of Object.keys(value)) {
        // Keys under verbatim user data (tool schemas) were not camelised on arrival.
        const child = Object.prototype.hasOwnProperty.call(node.fields, toCamel(key)) ? node.fields[toCamel(key)] : undefined;
        if (!knownHere(child, backend, apiVersion)) throw unknownName(key, path);
        check(value[key], child, `${path}.${key}`, backend, apiVersion);
      }
      return;
    default: throw new Error(`schema node ${node.t}`);
  }
}

const GEMINI_MODEL = /^(models|tunedModels)\/[A-Za-z0-9._-]+$/;
const VERTEX_MODEL = /^projects\/[^/]+\/locations\/[^/]+\/publishers\/[^/]+\/models\/[A-Za-z0-9._@-]+$/;
const VERTEX_EXPRESS_MODEL = /^publishers\/[^/]+\/models\/[A-Za-z0-9._@-]+$/;

function checkModel(model, conn) {
  if (conn.backend === 'gemini') {
    if (!GEMINI_MODEL.test(model)) {
      throw policy(`${model} is not found for API version ${conn.apiVersion}, or is not supported for bidiGenerateContent. Call ListModels to see the list of available models and their supported methods.`);
    }
  } else if (!VERTEX_MODEL.test(model) && !(conn.auth.kind === 'express' && VERTEX_EXPRESS_MODEL.test(model))) {
    throw policy(`Publisher Model \`${model}\` was not found or your project does not have access to it.`);
  }
}

// Validates a camelised setup and returns what the simulated session needs from it.
function parseSetup(setup, conn) {
  check(setup, SETUP, 'setup', conn.backend, conn.apiVersion);
  if (typeof setup.model !== 'string' || setup.model === '') throw invalid();
  checkModel(setup.model, conn);

  const gen = setup.generationConfig || {};
  const modalities = gen.responseModalities || ['AUDIO'];
  if (modalities.length > 1) throw invalid('Multiple response modalities are not supported.');
  const modality = modalities[0] === 'TEXT' ? 'TEXT' : 'AUDIO';

  const ric = setup.realtimeInputConfig || {};
  const aad = ric.automaticActivityDetection || {};
  const cwc = setup.contextWindowCompression;
  if (cwc) {
    const trigger = cwc.triggerTokens !== undefined ? Number(cwc.triggerTokens) : null;
    const target = cwc.slidingWindow && cwc.slidingWindow.targetTokens !== undefined
      ? Number(cwc.slidingWindow.targetTokens) : null;
    if ((trigger !== null && trigger <= 0) || (target !== null && target < 0)
      || (trigger !== null && target !== null && target >= trigger)) {
      throw invalid();
    }
  }

  const declarations = [];
  const builtins = { googleSearch: false, codeExecution: false, urlContext: false };
  for (const tool of setup.tools || []) {
    for (const name of Object.keys(builtins)) if (tool[name]) builtins[name] = true;
    for (const fd of tool.functionDeclarations || []) {
      if (!fd.name || !/^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/.test(fd.name)) throw invalid();
      declarations.push(fd);
    }
  }

  return {
    model: setup.model,
    modality,
    autoVad: aad.disabled !== true,
    startSensitivity: aad.startOfSpeechSensitivity === 'START_SENSITIVITY_LOW' ? 'LOW' : 'HIGH',
    silenceMs: aad.silenceDurationMs !== undefined ? Number(aad.silenceDurationMs) : 500,
    prefixPaddingMs: aad.prefixPaddingMs !== undefined ? Number(aad.prefixPaddingMs) : 20,
    interrupts: ric.activityHandling !== 'NO_INTERRUPTION',
    // What input transcripts carry (lib/transcripts.js); null when input transcription is off.
    inputTranscription: transcripts.parseConfig(setup.inputAudioTranscription),
    // Vertex only (the field is unknown to Gemini): SOS/EOS signals at the edges of speech.
    explicitVadSignal: setup.explicitVadSignal === true,
    outputTranscription: !!setup.outputAudioTranscription,
    resumption: setup.sessionResumption ? {
      handle: setup.sessionResumption.handle || null,
      transparent: setup.sessionResumption.transparent === true,
    } : null,
    compression: cwc || null,
    initialHistory: !!(setup.historyConfig && setup.historyConfig.initialHistoryInClientContent),
    functions: declarations,
    builtins,
    // Thoughts are sent only when asked for; the simulator sends one before each answer.
    includeThoughts: !!(gen.thinkingConfig && gen.thinkingConfig.includeThoughts),
  };
}

module.exports = { parseSetup, unknownName, badValue, check, CONTENT, FUNCTION_RESPONSE, REALTIME_INPUT };
