import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import { Session } from 'nest-session';
import type { Socket } from 'socket.io';

/**
 * The dashboard's live line: a socket.io connection that finds the page's session with no set-up
 * (the handshake carries the session cookie). It says who is signed in; when the session ends
 * anywhere (signed out, or "Sign out everywhere else" on another device), nest-session closes the
 * socket and the page says so.
 */
@WebSocketGateway()
export class LiveGateway implements OnGatewayConnection {
  constructor(private readonly session: Session) {}

  handleConnection(client: Socket): void {
    const user = this.session.get('user');
    if (this.session.userId === undefined || user === undefined) {
      client.disconnect(true);
      return;
    }
    client.emit('signed-in', { name: user.name });
  }
}
