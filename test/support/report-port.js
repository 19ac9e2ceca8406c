// `node --import ./test/support/report-port.js main.ts`: sends the parent process (IPC) the port the
// first server of the process listens on, so an app's own main.ts, run with PORT=0, can be tested as
// it is written.
import { Server } from 'node:net';
import process from 'node:process';

const listen = Server.prototype.listen;
let reported = false;
Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    if (reported) return;
    reported = true;
    process.send?.({ port: this.address().port });
  });
  return listen.apply(this, args);
};
