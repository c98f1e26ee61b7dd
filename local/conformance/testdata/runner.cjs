// Runs state machine definitions on aws-local-stepfunctions, the independent
// Amazon States Language implementation the conformance tests compare the
// local executor with.
//
// stdin: one request or a JSON array of requests
//   {"name", "definition", "input", "context", "handlers": {<function>: <behaviour>}}
// stdout: one result per request, in the same shape (object or array)
//   {"name", "status", "output", "error", "cause", "harnessError"}
// status is SUCCEEDED, FAILED or TIMED_OUT as for an execution;
// INVALID_DEFINITION when the library refuses the definition (cause says
// why); HARNESS_ERROR for a problem of the test itself (harnessError says
// what).
//
// Lambda tasks run local handlers built from the behaviour specs, which the Go
// side of the test implements the same way (see behaviour_test.go). Waits and
// retry pauses are overridden to 0 ms so a run takes milliseconds.
'use strict';

const { StateMachine, ExecutionError, ExecutionTimeoutError } = require('aws-local-stepfunctions');

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
// One execution may not take longer than this; the Go side bounds the whole
// process too.
const EXECUTION_TIMEOUT_MS = 10000;

// HarnessError reports a problem of the test itself. Retry and Catch must
// never handle it, so it is neither retryable nor catchable.
class HarnessError extends Error {
  get isRetryable() {
    return false;
  }
  get isCatchable() {
    return false;
  }
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function clone(v) {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

// functionName reduces a function name or ARN (with or without a version or
// alias) to the name, as Lambda resolves FunctionName.
function functionName(s) {
  const parts = String(s).split(':');
  const i = parts.indexOf('function');
  return i >= 0 && i + 1 < parts.length ? parts[i + 1] : parts[0];
}

// functionError is what a Lambda function error looks like to Step Functions:
// the error type names the failure and the error document is the cause.
function functionError(type, message) {
  const err = new Error(JSON.stringify({ errorMessage: message, errorType: type }));
  err.name = type;
  return err;
}

// lookup follows a dotted field path through objects.
function lookup(value, field) {
  let v = value;
  for (const part of field.split('.')) {
    if (!isObject(v) || !(part in v)) return undefined;
    v = v[part];
  }
  return v;
}

// compile turns a behaviour spec into a function of the payload. Each
// sequence node keeps its own call counter, so dispatching on input first
// keeps concurrent Map iterations deterministic.
function compile(spec, where) {
  if (!isObject(spec)) throw new HarnessError(`${where}: a behaviour must be an object`);
  const kinds = ['echo', 'return', 'merge', 'fail', 'sequence', 'switch'].filter((k) => k in spec);
  if (kinds.length !== 1) throw new HarnessError(`${where}: exactly one behaviour kind expected, got ${JSON.stringify(Object.keys(spec))}`);
  switch (kinds[0]) {
    case 'echo':
      return (payload) => payload;
    case 'return':
      return () => clone(spec.return);
    case 'merge':
      return (payload) => {
        if (!isObject(payload)) throw functionError('InvalidPayload', 'merge needs an object payload');
        return { ...payload, ...clone(spec.merge) };
      };
    case 'fail': {
      const { error, cause } = spec.fail;
      return () => {
        throw functionError(error, cause);
      };
    }
    case 'sequence': {
      const steps = spec.sequence.map((s, i) => compile(s, `${where}.sequence[${i}]`));
      if (steps.length === 0) throw new HarnessError(`${where}: empty sequence`);
      let calls = 0;
      return (payload) => steps[Math.min(calls++, steps.length - 1)](payload);
    }
    case 'switch': {
      const { field, cases = {} } = spec.switch;
      const compiled = {};
      for (const [k, s] of Object.entries(cases)) compiled[k] = compile(s, `${where}.switch.${k}`);
      const fallback = spec.switch.default ? compile(spec.switch.default, `${where}.switch.default`) : null;
      return (payload) => {
        const v = lookup(payload, field);
        const key = typeof v === 'string' ? v : JSON.stringify(v);
        if (key !== undefined && key in compiled) return compiled[key](payload);
        if (fallback) return fallback(payload);
        throw functionError('NoMatchingCase', `no case for ${field}=${key}`);
      };
    }
  }
  throw new HarnessError(`${where}: unknown behaviour`);
}

// envelope is the result of a lambda:invoke task: the Lambda Invoke response.
// Header values and the request id vary per call; the Go side masks them.
function envelope(payload) {
  const headers = {
    Connection: 'keep-alive',
    'Content-Length': String(Buffer.byteLength(JSON.stringify(payload ?? null))),
    'Content-Type': 'application/json',
    Date: new Date().toUTCString(),
    'X-Amz-Executed-Version': '$LATEST',
    'x-amzn-Remapped-Content-Length': '0',
    'x-amzn-RequestId': 'request-id',
    'X-Amzn-Trace-Id': 'trace-id',
  };
  const all = {};
  for (const [k, v] of Object.entries(headers)) all[k] = [v];
  return {
    ExecutedVersion: '$LATEST',
    Payload: payload,
    SdkHttpMetadata: { AllHttpHeaders: all, HttpHeaders: headers, HttpStatusCode: 200 },
    SdkResponseMetadata: { RequestId: 'request-id' },
    StatusCode: 200,
  };
}

// walk visits every state of a definition, nested Map and Parallel machines
// included, as aws-local-stepfunctions keys its overrides by state name
// across all of them.
function walk(machine, visit) {
  for (const [name, state] of Object.entries(machine.States || {})) {
    visit(name, state);
    const inner = state.ItemProcessor || state.Iterator;
    if (inner) walk(inner, visit);
    for (const branch of state.Branches || []) walk(branch, visit);
  }
}

function overrides(req) {
  const fns = {};
  for (const [name, spec] of Object.entries(req.handlers || {})) fns[name] = compile(spec, `handlers.${name}`);
  const call = async (name, payload) => {
    const fn = fns[functionName(name)];
    if (!fn) throw new HarnessError(`no handler for function ${name}`);
    return fn(clone(payload));
  };
  const tasks = {};
  const waits = {};
  const retries = {};
  const resources = {};
  walk(req.definition, (name, state) => {
    if (state.Retry) retries[name] = 0;
    if (state.Type === 'Wait') waits[name] = 0;
    if (state.Type !== 'Task') return;
    if (name in resources && resources[name] !== state.Resource) {
      throw new HarnessError(`Task states named ${JSON.stringify(name)} use different resources`);
    }
    resources[name] = state.Resource;
    if (state.Resource === LAMBDA_INVOKE) {
      tasks[name] = async (input) => {
        if (!isObject(input) || typeof input.FunctionName !== 'string') {
          throw new HarnessError(`state ${name}: lambda:invoke Parameters need FunctionName`);
        }
        return envelope(await call(input.FunctionName, 'Payload' in input ? input.Payload : {}));
      };
    } else if (/^arn:[^:]+:lambda:[^:]*:[^:]*:function:/.test(state.Resource)) {
      tasks[name] = (input) => call(state.Resource, input);
    } else {
      // Callbacks (.waitForTaskToken) and other integrations are out of
      // scope: a case may contain such a state but must not reach it.
      tasks[name] = () => {
        throw new HarnessError(`state ${name}: resource ${state.Resource} is not conformance-tested`);
      };
    }
  });
  return { taskResourceLocalHandlers: tasks, waitTimeOverrides: waits, retryIntervalOverrides: retries };
}

// Validating a definition costs the library far more than running it, and
// a state machine may run any number of independent executions: build each
// distinct definition once.
const machines = new Map();
function stateMachine(definition) {
  const key = JSON.stringify(definition);
  if (!machines.has(key)) machines.set(key, new StateMachine(definition));
  return machines.get(key);
}

async function runOne(req) {
  const result = { name: req.name, status: '', output: null, error: '', cause: '', harnessError: '' };
  let execution;
  let timer;
  let machine;
  try {
    machine = stateMachine(req.definition);
  } catch (err) {
    // The library's validator refused the definition.
    result.status = 'INVALID_DEFINITION';
    result.cause = String(err && err.message ? err.message : err);
    return result;
  }
  try {
    execution = machine.run(req.input === undefined ? {} : req.input, {
      overrides: overrides(req),
      context: req.context,
    });
    // The race below reports the outcome; this keeps a late rejection (after
    // an abort) from ending the process.
    execution.result.catch(() => {});
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new HarnessError(`execution did not end within ${EXECUTION_TIMEOUT_MS} ms`)), EXECUTION_TIMEOUT_MS);
    });
    result.output = await Promise.race([execution.result, timeout]);
    result.status = 'SUCCEEDED';
  } catch (err) {
    if (err instanceof ExecutionError) {
      const inner = err.cause || {};
      result.status = inner instanceof HarnessError ? 'HARNESS_ERROR' : 'FAILED';
      result.error = inner instanceof HarnessError ? '' : String(inner.name ?? '');
      result.cause = inner instanceof HarnessError ? '' : String(inner.message ?? '');
      if (inner instanceof HarnessError) result.harnessError = inner.message;
    } else if (err instanceof ExecutionTimeoutError) {
      result.status = 'TIMED_OUT';
    } else {
      result.status = 'HARNESS_ERROR';
      result.harnessError = String(err && err.stack ? err.stack : err);
    }
    if (execution && result.status === 'HARNESS_ERROR') execution.abort();
  } finally {
    clearTimeout(timer);
  }
  return result;
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const requests = Array.isArray(request) ? request : [request];
  const results = [];
  // One at a time: executions stay independent and timing-free.
  for (const req of requests) results.push(await runOne(req));
  // Exit once the results are out: timers of aborted executions (a task's
  // default timeout is long) must not keep the process alive.
  process.stdout.write(JSON.stringify(Array.isArray(request) ? results : results[0]) + '\n', () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
