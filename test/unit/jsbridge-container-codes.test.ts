/**
 * The rpc JSAPI's own error codes as the vendor's public documentation defines them (codes
 * below 10 are the container's, never gateway result codes), and the gateway's 1005. Each test
 * cites the page and the line it rests on (translated where the page is Chinese).
 */
import { describe, expect, it } from 'vitest';
import { RpcError } from '../../src/errors.js';
import { bridgeResponse } from '../../src/transport/jsbridge.js';
import { thrown as maybeThrown } from '../helpers/client-doubles.js';

const thrown = (f: () => unknown): RpcError => maybeThrown(f) ?? (expect.fail('expected a throw') as never);

describe('AlipayJSBridge: the general JSAPI error codes below 10 are the container\'s, not gateway result codes', () => {
  // https://myjsapi.alipay.com/jsapi/index.html, 错误处理约定 (error handling convention):
  //   "jsAPI的回调函数的参数是一个dictionary, 里面可能包含一个特殊的字段error,作为api调用的错误码"
  //   (the callback's argument is a dictionary that may hold a special field `error`, the call's error code)
  //   "小于10为通用错误码,具体api对应使用。定义以下通用错误码: 1 接口不存在 / 2 参数无效 / 3 发生未知错误 / 4 接口无权限"
  //   (codes below 10 are general error codes, used by each API: 1 no such API, 2 invalid parameters,
  //    3 an unknown error occurred, 4 the API is not permitted)
  // https://help.aliyun.com/document_detail/72758.htm (H5 JS 编程, rpc 错误码):
  //   "10 网络错误。 11 请求超时。 其他 由 mobilegw 网关定义。" (10 network error, 11 request timeout,
  //   others defined by the mobilegw gateway) — the gateway's own codes are 1000 and up (1000–8002).

  it('error 4 ("接口无权限": the page may not call the rpc JSAPI) is a container permission refusal (BAD_CONFIG, not retryable), not "mgs 4 gateway error"', () => {
    const err = thrown(() => bridgeResponse({ error: 4, errorMessage: 'no permission' }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.gatewayCode).toBe(4);
    expect(err.retryable).toBe(false);
    expect(err.message).not.toMatch(/^mgs /);
    expect(err.message).toMatch(/permi/i);
    // Not the gateway's "unknown reason, see Mgw-TraceId" remedy: no gateway was reached.
    expect(err.hint).not.toMatch(/Mgw-TraceId/);
    expect(err.hint).toMatch(/permi/i);
  });

  it('error 3 ("发生未知错误": an unknown error in the container) is the container\'s unknown error, not described as mgs gateway result code 3', () => {
    const err = thrown(() => bridgeResponse({ error: 3, errorMessage: 'something broke' }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.gatewayCode).toBe(3);
    expect(err.retryable).toBe(false);
    expect(err.message).not.toMatch(/^mgs 3/);
    expect(err.message).toContain('something broke');
    expect(err.hint).not.toMatch(/Mgw-TraceId/);
  });
});

describe('mgs result code 1005 (the vendor\'s table; PROTOCOLS.md §3 does not list it)', () => {
  // https://help.aliyun.com/document_detail/64260.html (网关结果码说明, gateway result codes):
  //   "1005 | 未授权 | 开启 API 授权后,API 调用时授权校验失败"
  //   (1005: unauthorized: with API authorization enabled, the call failed its authorization check)
  it('a container answer with gateway code 1005 is GATEWAY "unauthorized", not retryable, with a hint about API authorization (not the unknown-reason one)', () => {
    const err = thrown(() => bridgeResponse({ error: 1005, errorMessage: 'forbidden' }));
    expect(err.code).toBe('GATEWAY');
    expect(err.gatewayCode).toBe(1005);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/unauthorized/);
    expect(err.hint).toMatch(/authoriz/i);
    expect(err.hint).not.toMatch(/unknown reason/);
  });
});
