// The far ends of the adapter rows of `bench outbox`, in a process of their own so that answering does not take CPU
// from the client being measured: an HTTP server (204 to every POST) and a CoAP server (2.04 to every POST). Prints
// `{"http": <port>, "coap": <port>}` once both listen.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createCoapServer, type IncomingMessage, type OutgoingMessage } from 'coap';

const http = createHttpServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(req.method === 'POST' || req.method === 'HEAD' ? 204 : 405).end());
});
http.keepAliveTimeout = 60_000;
http.listen(0, '127.0.0.1');
await new Promise((resolve) => http.once('listening', resolve));

const coap = createCoapServer((req: IncomingMessage, res: OutgoingMessage) => {
  res.code = req.method === 'POST' ? '2.04' : '4.04';
  res.end();
});
await new Promise<void>((resolve, reject) => coap.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve())));
const coapPort = (coap as unknown as { _sock: { address(): { port: number } } })._sock.address().port;

process.stdout.write(`${JSON.stringify({ http: (http.address() as { port: number }).port, coap: coapPort })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
