/** The Avro schema the registry tests register (a signup: email and plan). */
export const signupAvro = {
  type: 'record',
  name: 'Signup',
  namespace: 'dev.jobbus.test',
  fields: [
    { name: 'email', type: 'string' },
    { name: 'plan', type: 'int' },
  ],
};
