/** The HTTPS certificate (fingerprint, validity, upload) and the CA for Modbus/TCP Security clients. */
import { useState } from 'preact/hooks';
import { allowed, call, ROUTES } from '../api.ts';
import { useSession } from '../session.ts';
import { Field, formatTime, Loading, Pairs, Section, Submit, useAction, useLoad } from '../ui.tsx';

interface CertificateInfo {
  source?: string;
  subject: string;
  issuer?: string;
  subjectAltName?: string | null;
  fingerprint256: string;
  validFrom: string;
  validTo: string;
}

/** `AB:CD:…` that wraps only between bytes: each byte with its colon is one unbreakable box. */
function Fingerprint(props: { hex: string }) {
  return (
    <span class="mono fingerprint">
      {props.hex.split(':').map((byte, i, all) => (
        <span>
          {byte}
          {i < all.length - 1 ? ':' : ''}
        </span>
      ))}
    </span>
  );
}

function Details(props: { cert: CertificateInfo }) {
  const { cert } = props;
  return (
    <Pairs
      rows={[
        ['SHA-256 fingerprint', <Fingerprint hex={cert.fingerprint256} />],
        ['Subject', cert.subject],
        ['Issuer', cert.issuer],
        ['Names', cert.subjectAltName],
        ['Valid from', formatTime(cert.validFrom)],
        ['Valid until', formatTime(cert.validTo)],
        ['Source', cert.source],
      ]}
    />
  );
}

/** Reads a chosen file as text into the field (PEM files are text). */
function PemInput(props: {
  label: string;
  name: string;
  value: string;
  error?: string | undefined;
  onChange(v: string): void;
}) {
  return (
    <Field label={props.label} error={props.error} hint="Paste the PEM text or choose a file">
      <textarea
        name={props.name}
        rows={4}
        class="mono"
        value={props.value}
        onInput={(e) => props.onChange(e.currentTarget.value)}
      />
      <input
        type="file"
        accept=".pem,.crt,.key,.cer"
        aria-label={`${props.label} file`}
        onChange={async (e) => {
          const file = e.currentTarget.files?.[0];
          if (file) props.onChange(await file.text());
        }}
      />
    </Field>
  );
}

function TlsUpload(props: { onDone(): void }) {
  const [certificate, setCertificate] = useState('');
  const [privateKey, setPrivateKey] = useState('');
  const action = useAction();
  if (location.protocol !== 'https:') {
    return <p class="notice">A certificate and its private key can be uploaded only over HTTPS.</p>;
  }
  return (
    <form
      aria-label="Upload HTTPS certificate"
      onSubmit={async (e) => {
        e.preventDefault();
        const ok = await action.run(
          () => call(ROUTES.uploadTls, { body: { certificate, privateKey } }),
          'Installed. The browser may ask you to trust the new certificate.',
        );
        setPrivateKey('');
        if (ok) props.onDone();
      }}
    >
      <PemInput
        label="Certificate (PEM)"
        name="certificate"
        value={certificate}
        error={action.on('certificate')}
        onChange={setCertificate}
      />
      <PemInput
        label="Private key (PEM)"
        name="privateKey"
        value={privateKey}
        error={action.on('privateKey')}
        onChange={setPrivateKey}
      />
      <Submit
        action={action}
        label="Install certificate"
        busy="Installing…"
        fields={['certificate', 'privateKey']}
      />
    </form>
  );
}

function CaUpload(props: { onDone(): void }) {
  const [ca, setCa] = useState('');
  const action = useAction();
  return (
    <form
      aria-label="Upload Modbus CA"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await action.run(() => call(ROUTES.uploadModbusCa, { body: { ca } }), 'Installed.'))
          props.onDone();
      }}
    >
      <PemInput label="CA certificate (PEM)" name="ca" value={ca} error={action.on('ca')} onChange={setCa} />
      <Submit action={action} label="Install CA" busy="Installing…" fields={['ca']} />
    </form>
  );
}

export function CertificatesPage() {
  const { me } = useSession();
  const tls = useLoad(() => call<CertificateInfo>(ROUTES.tls), []);
  const ca = useLoad(() => call<{ ca: CertificateInfo | null }>(ROUTES.modbusCa), []);
  const writable = allowed(me, ROUTES.uploadTls.requires);
  return (
    <div class="grid">
      <Section title="HTTPS certificate">
        {tls.data ? <Details cert={tls.data} /> : <Loading error={tls.error} />}
        <p class="muted">Compare the fingerprint with the one your browser shows before you trust it.</p>
        {writable && <TlsUpload onDone={tls.reload} />}
      </Section>
      <Section title="Modbus/TCP Security client CA">
        {ca.data ? (
          ca.data.ca ? (
            <Details cert={ca.data.ca} />
          ) : (
            <p>None installed: Modbus/TCP Security accepts no client until one is.</p>
          )
        ) : (
          <Loading error={ca.error} />
        )}
        {writable && <CaUpload onDone={ca.reload} />}
      </Section>
    </div>
  );
}
