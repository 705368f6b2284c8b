// What to tell a person when something fails, in words they understand.

import type { ChatError } from './protocol';

export type ErrorContext =
  | 'send'
  | 'join'
  | 'create'
  | 'history'
  | 'connect'
  | 'rename'
  | 'edit'
  | 'delete'
  | 'delete-room'
  | 'other';

/** A sentence or two for `error`, saying what happened and what to do. */
export function describeError(error: ChatError, context: ErrorContext = 'other', maxLen?: number): string {
  switch (error.code) {
    case 'rate_limited':
      return 'You’re sending messages too quickly. Wait a moment, then try again.';
    case 'too_large':
      return maxLen
        ? `This message is too long: the limit is ${maxLen.toLocaleString()} characters. Shorten it and try again.`
        : 'This message is too long for this server. Shorten it and try again.';
    case 'forbidden':
      if (context === 'join')
        return 'This room is private and the invite key is missing or wrong. Ask for a fresh invite link.';
      if (context === 'send') return 'You can’t post in this room. Rejoin it with a valid invite link.';
      if (context === 'edit' || context === 'delete') return 'You can only change your own messages.';
      if (context === 'delete-room') return 'Only the person who created this room can delete it.';
      return 'You don’t have access to that room.';
    case 'unauthorized':
      return 'This chat needs an access token. Open the invite link you were given again, or enter the token.';
    case 'unavailable':
      return 'The server can’t save messages right now. Try again in a moment.';
    case 'not_found':
      if (context === 'join')
        return 'That room doesn’t exist, or it’s private and the invite key is missing or wrong. Ask for a fresh invite link.';
      if (context === 'edit' || context === 'delete') return 'That message doesn’t exist any more.';
      return 'That room doesn’t exist (any more).';
    case 'bad_request':
      if (context === 'create') return 'That room name isn’t allowed. Use letters, digits, dots, dashes or underscores.';
      if (context === 'send' || context === 'edit')
        return 'The server refused this message. Check that it isn’t empty and try again.';
      if (context === 'rename')
        return 'That name isn’t allowed. Use 1 to 32 visible characters, without invisible or control characters.';
      return `The server refused the request${error.message ? `: ${error.message}` : '.'}`;
    case 'timeout':
      return 'The server didn’t answer in time. Check your connection and try again.';
    case 'disconnected':
      return context === 'send'
        ? 'You’re offline. It goes out when the connection is back.'
        : 'You’re offline right now. Try again once the connection is back.';
    default:
      return error.message || 'Something went wrong. Try again.';
  }
}
