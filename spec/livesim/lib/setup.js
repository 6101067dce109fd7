'use strict';
// Validation of the `setup` message against the fields the Live API knows, per backend, and
// derivation of the session configuration the simulator acts on.
const { invalid, policy } = require('./errors');
const { toSnake } = require('./casing');

// Schema node constructors. `only` marks fields that exist on one backend's proto only: on the
// other backend they are unknown names, exactly like any misspelt field.
const STR = { t: 'string' };
const NUM = { t: 'number' };
const INT = { t: 'int' };
const BOOL = { t: 'bool' };
const INT64 = { t: 'int64' };
const ANY = { t: 'any' };
const obj = (fields) => ({ t: 'object', fields });
const arr = (item) => ({ t: 'array', item });
const map = (value) => ({ t: 'map', value });
const enm = (name, ...values) => ({ t: 'enum', name, values: new Set(values) });
const only = (backend, node) => ({ ...node, backend });

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
    temperature: NUM, topP: NUM, topK: NUM, maxOutputTokens: INT, seed: INT, candidateCount: INT,
    presencePenalty: NUM, frequencyPenalty: NUM,
    mediaResolution: enm('MediaResolution', 'MEDIA_RESOLUTION_UNSPECIFIED', 'MEDIA_RESOLUTION_LOW',
      'MEDIA_RESOLUTION_MEDIUM', 'MEDIA_RESOLUTION_HIGH'),
    thinkingConfig: obj({
      includeThoughts: BOOL, thinkingBudget: INT,
      thinkingLevel: enm('ThinkingLevel', 'THINKING_LEVEL_UNSPECIFIED', 'MINIMAL', 'LOW', 'MEDIUM', 'HIGH'),
    }),
    enableAffectiveDialog: BOOL,
    translationConfig: only('gemini', obj({ targetLanguageCode: STR, echoTargetLanguage: BOOL })),
  }),
  systemInstruction: obj({ role: STR, parts: arr(ANY) }),
  tools: arr(obj({
    functionDeclarations: arr(obj({
      name: STR, description: STR, parameters: ANY, parametersJsonSchema: ANY,
      response: ANY, responseJsonSchema: ANY,
      behavior: enm('Behavior', 'UNSPECIFIED', 'BLOCKING', 'NON_BLOCKING'),
    })),
    googleSearch: obj({
      searchTypes: ANY, timeRangeFilter: ANY,
      blockingConfidence: only('vertex', STR), excludeDomains: only('vertex', arr(STR)),
    }),
    googleSearchRetrieval: ANY, codeExecution: obj({}), urlContext: obj({}),
    googleMaps: ANY, computerUse: ANY, mcpServers: ANY,
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
      prefixPaddingMs: INT, silenceDurationMs: INT,
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
  proactivity: obj({ proactiveAudio: BOOL }),
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

// Throws a CloseError describing the first problem found, in the real service's wording.
function check(value, node, path, backend) {
  switch (node.t) {
    case 'any': return;
    case 'string': if (typeof value !== 'string') throw badValue(path, 'TYPE_STRING', value); return;
    case 'bool': if (typeof value !== 'boolean') throw badValue(path, 'TYPE_BOOL', value); return;
    case 'number':
      if (typeof value !== 'number' && !(typeof value === 'string' && value !== '' && !isNaN(Number(value)))) {
        throw badValue(path, 'TYPE_FLOAT', value);
      }
      return;
    case 'int': if (!isInt(value)) throw badValue(path, 'TYPE_INT32', value); return;
    case 'int64': if (!isInt(value)) throw badValue(path, 'TYPE_INT64', value); return;
    case 'enum':
      if (!node.values.has(value)) throw badValue(path, `type.googleapis.com/${node.name}`, value);
      return;
    case 'array':
      if (!Array.isArray(value)) throw badValue(path, 'TYPE_MESSAGE', value);
      value.forEach((v, i) => check(v, node.item, `${path}[${i}]`, backend));
      return;
    case 'map':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw badValue(path, 'TYPE_MESSAGE', value);
      }
      for (const [k, v] of Object.entries(value)) check(v, node.value, `${path}[${JSON.stringify(k)}]`, backend);
      return;
    case 'object':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw badValue(path, 'TYPE_MESSAGE', value);
      }
      for (const key of Object.keys(value)) {
        const child = node.fields[key];
        if (!child || (child.backend && child.backend !== backend)) throw unknownName(key, path);
        check(value[key], child, `${path}.${key}`, backend);
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
  check(setup, SETUP, 'setup', conn.backend);
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
    inputTranscription: !!setup.inputAudioTranscription,
    outputTranscription: !!setup.outputAudioTranscription,
    resumption: setup.sessionResumption ? {
      handle: setup.sessionResumption.handle || null,
      transparent: setup.sessionResumption.transparent === true,
    } : null,
    compression: cwc || null,
    initialHistory: !!(setup.historyConfig && setup.historyConfig.initialHistoryInClientContent),
    functions: declarations,
    builtins,
  };
}

module.exports = { parseSetup, unknownName, badValue };
