'use strict';
// The simulator refuses what the service's proto3 JSON parser refuses: int32 values out of
// range or with a fraction, bad tool schemas and system instructions, and unknown names inside
// content parts, function responses and realtime input. Raw sockets, so nothing is filtered by
// an SDK on the way.
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const h = require('../harness/sim');

let sim;
test.before(async () => {
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone', '--bearer', 'test-bearer']);
});
test.after(() => sim.stop());

const GEMINI = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=test-key';
const VERTEX = '/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent';
const VERTEX_MODEL = 'projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash';

// Reasons are cut at 123 bytes, as on the wire, so long paths are matched by their start.

// Sends the setup, then (after setupComplete) each message. Resolves with the close
// ({code, reason}), or 'answered' when a turnComplete came, or 'open' after 1.5 s of neither
// (or right after setupComplete when there are no messages).
function session(setup, messages = [], { vertex = false } = {}) {
  const ws = new WebSocket(sim.base.replace('http', 'ws') + (vertex ? VERTEX : GEMINI),
    vertex ? { headers: { Authorization: 'Bearer test-bearer' } } : {});
  ws.on('open', () => ws.send(JSON.stringify({ setup: { model: vertex ? VERTEX_MODEL : 'models/m', ...setup } })));
  return new Promise((resolve) => {
    let timer;
    const done = (v) => { clearTimeout(timer); resolve(v); ws.close(); };
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.setupComplete) {
        if (!messages.length) return done('open');
        for (const m of messages) ws.send(typeof m === 'string' ? m : JSON.stringify(m));
        timer = setTimeout(() => done('open'), 1500);
      } else if (msg.serverContent && msg.serverContent.turnComplete) {
        done('answered');
      }
    });
    ws.on('close', (code, why) => { clearTimeout(timer); resolve({ code, reason: why.toString() }); });
  });
}

const refused = (e, pattern) => {
  assert.equal(typeof e, 'object', `expected a close, got ${e}`);
  assert.equal(e.code, 1007);
  assert.match(e.reason, pattern);
};

test('int32 fields refuse values out of range and fractions', async () => {
  refused(await session({ generationConfig: { seed: 1099511627776 } }),
    /^Invalid JSON payload received. Invalid value at 'setup.generation_config.seed' \(TYPE_INT32\), 1099511627776$/);
  refused(await session({ generationConfig: { maxOutputTokens: 5000000000 } }),
    /Invalid value at 'setup.generation_config.max_output_tokens' \(TYPE_INT32\)/);
  refused(await session({ generationConfig: { candidateCount: '2147483648' } }),
    /Invalid value at 'setup.generation_config.candidate_count' \(TYPE_INT32\)/);
  refused(await session({ realtimeInputConfig: { automaticActivityDetection: { silenceDurationMs: 99999999999 } } }),
    /Invalid value at 'setup.realtime_input_config.automatic_activity_detection.silence_duration_/);
  refused(await session({ realtimeInputConfig: { automaticActivityDetection: { prefixPaddingMs: -2147483649 } } }),
    /automatic_activity_detection.prefix_padding_/);
  refused(await session({ generationConfig: { topK: 40.5 } }),
    /Invalid value at 'setup.generation_config.top_k' \(TYPE_INT32\), 40.5/);
  // The limits themselves, integral floats and quoted integers are int32 values.
  assert.equal(await session({ generationConfig: { seed: 2147483647, maxOutputTokens: '8192', topK: 9.0, candidateCount: 1 },
    realtimeInputConfig: { automaticActivityDetection: { prefixPaddingMs: -2147483648, silenceDurationMs: 300 } } }), 'open');
});

test('Vertex top_k is a float; its int32 fields are checked the same way', async () => {
  assert.equal(await session({ generationConfig: { topK: 40.5 } }, [], { vertex: true }), 'open');
  refused(await session({ generationConfig: { seed: 2 ** 40 } }, [], { vertex: true }), /generation_config.seed' \(TYPE_INT32\)/);
});

const declare = (fd) => ({ tools: [{ functionDeclarations: [{ name: 'f', ...fd }] }] });

test('function declaration schemas are checked as Schema', async () => {
  const good = {
    type: 'OBJECT', description: 'd', nullable: false,
    properties: {
      city: { type: 'STRING', enum: ['Paris', 'Rome'], format: 'enum' },
      Odd_Key: { type: 'ARRAY', items: { type: 'INTEGER', minimum: 1 }, max_items: '3', minItems: 1 },
      either: { anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }], nullable: true },
    },
    required: ['city'], propertyOrdering: ['city', 'Odd_Key'],
  };
  assert.equal(await session(declare({ parameters: good, response: { type: 'STRING' } })), 'open');
  refused(await session(declare({ parameters: { type: 'object' } })),
    /Invalid value at 'setup.tools\[0\].function_declarations\[0\].parameters.type' \(type.googleapis./);
  refused(await session(declare({ parameters: { type: 'OBJECT', properties: [] } })),
    /parameters.properties' \(TYPE_/);
  refused(await session(declare({ parameters: { type: 'OBJECT', properties: { a: { type: 'STRING', additionalProperties: false } } } })),
    /^Invalid JSON payload received. Unknown name "additional_properties" at 'setup.tools\[0\].function_declarations\[0\].paramet/);
  refused(await session(declare({ parameters: { type: 'ARRAY', items: { type: 'STRNG' } } })), /parameters.items.type'/);
  refused(await session(declare({ parameters: { type: 'OBJECT', required: 'city' } })), /parameters.required' \(TYPE_/);
  refused(await session(declare({ parameters: { type: 'OBJECT', required: [1] } })), /parameters.required\[0\]' \(TYPE_/);
  refused(await session(declare({ parameters: { type: 'STRING', nullable: 'yes' } })), /parameters.nullable' \(TYPE_/);
  refused(await session(declare({ parameters: { anyOf: { type: 'STRING' } } })), /parameters.any_of' \(TYPE_/);
  refused(await session(declare({ response: { type: 'STRING', $schema: 'x' } })), /Unknown name "\$schema" at '.*response'/);
  // parametersJsonSchema takes any JSON Schema.
  assert.equal(await session(declare({ parametersJsonSchema: { type: 'object', additionalProperties: false, properties: { a: { type: ['string', 'null'] } } } })), 'open');
});

test('systemInstruction parts are Content parts', async () => {
  assert.equal(await session({ systemInstruction: { role: 'user', parts: [{ text: 'Be brief.' }] } }), 'open');
  refused(await session({ systemInstruction: { parts: [{ txt: 'Be brief.' }] } }),
    /Unknown name "txt" at 'setup.system_instruction.parts\[0\]': Cannot find field./);
  refused(await session({ systemInstruction: { parts: [{ text: 5 }] } }), /system_instruction.parts\[0\].text' \(TYPE_STRING\)/);
  refused(await session({ systemInstruction: { parts: ['Be brief.'] } }), /system_instruction.parts\[0\]' \(TYPE_MESSAGE\)/);
});

test('unknown names inside client content parts close the session', async () => {
  const turn = (part) => ({ clientContent: { turns: [{ role: 'user', parts: [part] }], turnComplete: true } });
  refused(await session({}, [turn({ bogusPart: { x: 1 }, text: 'hi' })]),
    /^Invalid JSON payload received. Unknown name "bogus_part" at 'client_content.turns\[0\].parts\[0\]': Cannot find field.$/);
  refused(await session({}, [turn({ inlineData: { mimeType: 'image/png', data: 'AAAA', size: 3 } })]),
    /Unknown name "size" at 'client_content.turns\[0\].parts\[0\].inline_data'/);
  refused(await session({}, [{ clientContent: { turns: [], turnComplete: true, extra: 1 } }]), /Unknown name "extra" at 'client_content'/);
  // Vertex-only and Gemini-only part fields follow the reference's split.
  refused(await session({}, [turn({ inlineData: { mimeType: 'image/png', data: 'AAAA', displayName: 'x' } })]),
    /Unknown name "display_name" at 'client_content.turns\[0\].parts\[0\].inline_data'/);
  assert.equal(await session({}, [turn({ text: 'hi', thought: false })]), 'answered');
  assert.equal(await session({}, [{ client_content: { turns: [{ parts: [{ function_call: { name: 'f', args: { Any_Key: 1 } } }, { text: 'hi' }] }], turn_complete: true } }]), 'answered');
});

test('function responses and realtime input refuse unknown names at every depth', async () => {
  const setup = { tools: [{ functionDeclarations: [{ name: 'get_weather' }] }] };
  const response = (r) => ({ toolResponse: { functionResponses: [{ id: 'function-call-1', name: 'get_weather', response: {}, ...r }] } });
  refused(await session(setup, [response({ parts: [{ inlineData: { mimeType: 'image/png', data: 'AAAA', bogus: 1 } }] })]),
    /Unknown name "bogus" at 'tool_response.function_responses\[0\].parts\[0\].inline_data'/);
  refused(await session(setup, [response({ extra: true })]), /Unknown name "extra" at 'tool_response.function_responses\[0\]'/);
  refused(await session(setup, [response({ response: [1] })]), /function_responses\[0\].response' \(TYPE_MESSAGE\)/);
  refused(await session({}, [{ realtimeInput: { audio: { mimeType: 'audio/pcm;rate=16000', data: '', rate: 16000 } } }]),
    /Unknown name "rate" at 'realtime_input.audio'/);
  refused(await session({}, [{ realtimeInput: { audioStreamEnd: 'yes' } }]), /realtime_input.audio_stream_end' \(TYPE_BOOL\)/);
  refused(await session({ realtimeInputConfig: { automaticActivityDetection: { disabled: true } } },
    [{ realtimeInput: { activityStart: { now: true } } }]), /Unknown name "now" at 'realtime_input.activity_start'/);
  assert.equal(await session({}, [{ realtimeInput: { text: 'hi' } }]), 'answered');
});
