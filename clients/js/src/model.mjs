// An edge-rnn model loaded into an onnxruntime binding, with its contract.
//
// The binding is passed in (`ort`: the module of onnxruntime-node or onnxruntime-web), so the
// same code runs in Node and in the browser. A Model holds no stream state: many streams
// (predictors, spotters) share one Model, each owning its own state arrays.

import { checkGraph, parseContract } from './contract.mjs';
import { UserError } from './errors.mjs';
import { checkDigest } from './integrity.mjs';
import { readMetadata } from './protobuf.mjs';

const TASK_NAMES = { lm: 'language model', kws: 'keyword spotter' };

/** Session options as the Python runtime sets them (runtime/session.py), so that both run the
 * same optimised graph: one intra-op thread, full optimisation, and int8 QDQ weights folded to
 * float once at load rather than dequantized every call. */
export function sessionOptions(threads = 1) {
  return {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: Math.max(1, threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
    // flat keys: onnxruntime-node and -web both pass them on as session config entries
    extra: { 'session.disable_quant_qdq': '1', 'session.intra_op.allow_spinning': threads <= 1 ? '0' : '1' },
  };
}

export class Model {
  /** Use `Model.load`; this wraps an onnxruntime session and the contract read from `bytes`. */
  constructor(ort, session, contract, where, integrity = 'not checked') {
    this.ort = ort;
    this.integrity = integrity;  // 'verified' or 'no digest' (see integrity.mjs)
    this.session = session;
    this.contract = contract;
    this.where = where;
    this.stateOutputs = contract.states.map((s) => s.output);
  }

  /**
   * Load a model from its bytes (Uint8Array). task: refuse a model of another task.
   * where: how errors name the model (a path or URL). warn(message): told of a file without an
   * integrity digest. Throws UserError, one line, for a file that is not an edge-rnn model, is
   * damaged (its digest does not match), has metadata this client refuses (contract.mjs), is of
   * another task, or does not load.
   */
  static async load(ort, bytes, { task = null, threads = 1, where = 'model', options = {}, warn = console.warn } = {}) {
    let meta, integrity;
    try {
      meta = readMetadata(bytes);
      integrity = await checkDigest(bytes, where, warn);
    } catch (e) {
      if (e instanceof UserError) throw e;
      if (e instanceof TypeError) throw new UserError(`${where} has metadata that is not UTF-8 text (a damaged file?)`);
      throw new UserError(`${where} is not an ONNX model (it does not parse as one: ${e.message}; damaged or another kind of file)`);
    }
    const contract = parseContract(meta, where);
    if (task && contract.task !== task)
      throw new UserError(`${where} is a ${TASK_NAMES[contract.task]}, but this needs a ${TASK_NAMES[task]}`);
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, { ...sessionOptions(threads), ...options });
    } catch (e) {
      const first = String(e.message || e).trim().split('\n')[0];
      throw new UserError(`${where} is not a loadable ONNX model: ${first.slice(0, 200)}`);
    }
    checkGraph(contract, session, where);
    return new Model(ort, session, contract, where, integrity);
  }

  /** The state at the start of a stream: zeros, one Float32Array (batch * size) per state. */
  zeroState(batch = 1) {
    return this.contract.states.map((s) => new Float32Array(batch * s.size));
  }

  /**
   * One call: `x` is the main input as an ort.Tensor (batch, time); `state` the current states.
   * Returns [outputs named in `names` (ort.Tensor each), new state (Float32Array each)].
   * An empty chunk is refused: onnxruntime may abort or zero the state on time 0.
   */
  async run(x, state, names) {
    const [batch, time] = x.dims;
    if (x.dims.length !== 2 || !(batch >= 1) || !(time >= 1))
      throw new Error(`a chunk must be (batch, time) with batch, time >= 1, got [${x.dims}]`);
    const feeds = { [this.contract.input]: x };
    this.contract.states.forEach((s, i) => {
      feeds[s.input] = new this.ort.Tensor('float32', state[i], [batch, s.size]);
    });
    const out = await this.session.run(feeds, [...names, ...this.stateOutputs]);
    return [names.map((n) => out[n]), this.stateOutputs.map((n) => out[n].data)];
  }

  /** Free the onnxruntime session. */
  async release() {
    await this.session.release();
  }
}
