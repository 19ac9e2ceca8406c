// A second process on a SQLite file: `lock` takes the file's exclusive lock (BEGIN EXCLUSIVE) and
// holds it until `release`. Each message is answered once it has taken effect.
import Database from 'better-sqlite3';
import process from 'node:process';

const db = new Database(process.argv[2]);
process.on('message', (message) => {
  if (message === 'lock') db.exec('BEGIN EXCLUSIVE');
  else if (message === 'release') db.exec('COMMIT');
  else if (message === 'exit') {
    db.close();
    process.disconnect();
    return;
  }
  process.send(message === 'lock' ? 'locked' : 'released');
});
process.send('ready');
