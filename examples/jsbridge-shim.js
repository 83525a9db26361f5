/*
 * Shim set-up for examples/jsbridge-shim.html: one client, one onError for every call.
 *
 * The client here speaks `modern` (no secret in the page: the gateway's public key is
 * pinned and session keys are agreed per browser). An `mgs` client works the same way,
 * SealedRpc.mgs({ appId, workspaceId, secret }), but in a plain browser its signing
 * secret would sit in the page; inside the real container the native side signs instead.
 */
(function () {
  'use strict';

  var toastTimer;
  function toast(text) {
    var el = document.getElementById('toast');
    el.textContent = text;
    el.className = 'shown';
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.className = ''; }, 3000);
  }

  function dialog(title, text) {
    document.getElementById('dialog-title').textContent = title;
    document.getElementById('dialog-text').textContent = text;
    var d = document.getElementById('dialog');
    if (typeof d.showModal === 'function') d.showModal();
    else window.alert(title + '\n' + text);
  }

  // Uniform RpcException-style handling: transient trouble is a toast, a refusal a dialog.
  function onError(err) {
    switch (err.code) {
      case 'NETWORK':
      case 'TIMEOUT':
        toast(err.hint);
        break;
      case 'GATEWAY':
        dialog('The service refused (' + err.gatewayCode + ')', err.message + '\n' + err.hint);
        break;
      default:
        dialog('Request failed: ' + err.code, err.hint);
    }
  }

  // A second client whose gateway cannot be reached, to show the toast path.
  var offline = SealedRpc.createClient({
    profile: SealedRpc.mgs({ appId: 'DEMO', workspaceId: 'default', secret: 'demo-only' }),
    transport: SealedRpc.fetchTransport({ baseUrl: 'http://127.0.0.1:9' }),
    store: SealedRpc.memoryStore(),
    timeoutMs: 3000,
    onError: onError
  });
  window.demoOfflineCall = function () {
    offline.call('MYAPI', { key1: 'value1' }).catch(function () { /* onError showed it */ });
  };

  // The public client settings come from the demo gateway (see examples/node-backend).
  fetch('/gw/config')
    .then(function (r) { return r.json(); })
    .then(function (config) {
      var client = SealedRpc.createClient({
        profile: SealedRpc.modern({ serverKeys: config.modern.serverKeys }),
        transport: SealedRpc.fetchTransport({ baseUrl: '/gw/modern' }),
        onError: onError
      });
      // Defines window.AlipayJSBridge (only where the container did not) and fires AlipayJSBridgeReady.
      SealedRpc.installRpcShim(client);
    })
    .catch(function () {
      toast('The demo gateway is not running: start it with npm run dev.');
    });
})();
