export const title = 'Hello from my app';
