// The official client-control library's calling pattern (client.js v1.3.9, Weasley-J/chinaport-data-signature
// src/main/resources/static/client.js), written anew for the tests: what the agent must answer exactly as
// the official control does. Its traits, each one a way a drop-in replacement can fail:
// - the address: ws://127.0.0.1:61232 on http: pages, wss://wss.singlewindow.cn:61231 on every other page;
// - one socket, made as the script loads; "_id" counts from 0; nothing waits for the "open" push
//   (a request goes out as soon as readyState is 1, polled every 500 ms);
// - replies go to the callback registered under their "_method"; any other reply is dropped;
// - large requests go as BLOCKTXT frames: a 128-character header, then one block per "_nextBlock" reply.
(function (window) {
  "use strict";
  var url = window.location.protocol === "http:" ? "ws://127.0.0.1:61232" : "wss://wss.singlewindow.cn:61231";
  var ws = new WebSocket(url);
  var callbacks = {};
  var transfers = {};
  var id = 0;
  var seen = [];  // every message the page received, for the tests

  ws.onmessage = function (event) {
    seen.push(event.data);
    if (event.data.charAt(0) !== "{") { return; }
    var message = JSON.parse(event.data);
    if (callbacks[message._method]) { callbacks[message._method](message._args, event.data); }
  };

  function send(text, callback, tries) {
    tries = tries || 0;
    if (ws.readyState === 1) { ws.send(text); return; }
    if (tries > 9) {
      callback({ Result: false, Data: [], Error: ["连接客户端控件服务失败,请重试.", "Err:Base60408"] });
      return;
    }
    setTimeout(function () { send(text, callback, tries + 1); }, 500);
  }

  // CRC-16/MODBUS over the low byte of each UTF-16 code unit, bytes swapped (the library's DIGEST.CheckCode).
  function checkCode(text) {
    var crc = 0xFFFF;
    for (var i = 0; i < text.length; i++) {
      crc ^= text.charCodeAt(i) & 0xFF;
      for (var bit = 0; bit < 8; bit++) { crc = (crc & 1) ? ((crc >>> 1) ^ 0xA001) : (crc >>> 1); }
    }
    var swapped = ((crc & 0xFF) << 8) | (crc >>> 8);
    return ("0000" + swapped.toString(16).toUpperCase()).slice(-4);
  }

  function pad(value, width) {
    var text = String(value);
    while (text.length < width) { text = "0" + text; }
    return text;
  }

  // The library counts a CJK character as 3 bytes and cuts a block at about 120 KiB.
  function split(text, limit) {
    var blocks = [], count = 0, start = 0;
    for (var i = 0; i < text.length; i++) {
      count += text.charCodeAt(i) > 0xFF ? 3 : 1;
      if (count > limit - 3) { blocks.push(text.substring(start, i + 1)); start = i + 1; count = 0; }
    }
    if (start !== text.length) { blocks.push(text.substring(start)); }
    return blocks;
  }

  function header(transfer, number) {
    var block = transfer.blocks[number];
    var head = "BLOCKTXT" + transfer.check + checkCode(block) + pad(transfer.length, 16) + pad(block.length, 8) +
      pad(transfer.blocks.length, 4) + transfer.guid + pad(number, 4);
    while (head.length < 128) { head += "0"; }
    return head;
  }

  function guid() {
    function part() { return (((1 + Math.random()) * 0x10000) | 0).toString(16).substring(1); }
    return part() + part() + "-" + part() + "-" + part() + "-" + part() + "-" + part() + part() + part();
  }

  callbacks._nextBlock = function (args) {
    var state = args.Data[0], transfer = transfers[state.guid];
    if (!transfer) { return; }
    if (state.finish) { delete transfers[state.guid]; return; }
    if (!args.Result) { transfer.retries += 1; }
    send(header(transfer, state.next) + transfer.blocks[state.next]);
  };

  function envelope(method, args) {
    return JSON.stringify({ _method: method, _id: id++, args: args || {} });
  }

  window.EportClientPattern = {
    url: url,
    seen: seen,
    transfers: transfers,
    invoke: function (method, args, callback) {
      callbacks[method] = callback;
      send(envelope(method, args), callback);
    },
    invokeByFrames: function (method, args, callback, blockLimit) {
      callbacks[method] = callback;
      var text = envelope(method, args);
      var transfer = { check: checkCode(text), length: text.length, blocks: split(text, blockLimit || 120 * 1024),
                       guid: guid(), retries: 0 };
      transfers[transfer.guid] = transfer;
      send(header(transfer, 0) + transfer.blocks[0], callback);
      return transfer;
    },
    sendRaw: function (text, method, callback) {
      callbacks[method] = callback;
      send(text, callback);
    },
  };
})(window);
