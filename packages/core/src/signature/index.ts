export * from './signature-error.js';
export * from './message-signature.js';
export * from './client-cert.js';
export * from './signing-key.js';
export {
  parseDictionary,
  parseList,
  parseItem,
  serializeBareItem,
  serializeInnerList,
  serializeParameters,
  Token as StructuredFieldToken,
  type BareItem as StructuredFieldBareItem,
  type Item as StructuredFieldItem,
  type InnerList as StructuredFieldInnerList,
  type Parameters as StructuredFieldParameters,
} from './structured-field.js';
