export * from '@slmkit/core';
