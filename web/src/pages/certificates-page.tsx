/** The HTTPS certificate (fingerprint, validity, upload) and the CA for Modbus/TCP Security clients. */
import { useState } from 'preact/hooks';
import { allowed, call, ROUTES } from '../api.ts';
import { t } from '../i18n.ts';
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
        [t('SHA-256 fingerprint'), <Fingerprint hex={cert.fingerprint256} />],
        [t('Subject'), cert.subject],
        [t('Issuer'), cert.issuer],
        [t('Names'), cert.subjectAltName],
        [t('Valid from'), formatTime(cert.validFrom)],
        [t('Valid until'), formatTime(cert.validTo)],
        [t('Source'), cert.source],
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
    <Field label={props.label} error={props.error} hint={t('Paste the PEM text or choose a file')}>
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
        aria-label={t('{label} file', { label: props.label })}
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
    return <p class="notice">{t('A certificate and its private key can be uploaded only over HTTPS.')}</p>;
  }
  return (
    <form
      aria-label={t('Upload HTTPS certificate')}
      onSubmit={async (e) => {
        e.preventDefault();
        const ok = await action.run(
          () => call(ROUTES.uploadTls, { body: { certificate, privateKey } }),
          t('Installed. The browser may ask you to trust the new certificate.'),
        );
        setPrivateKey('');
        if (ok) props.onDone();
      }}
    >
      <PemInput
        label={t('Certificate (PEM)')}
        name="certificate"
        value={certificate}
        error={action.on('certificate')}
        onChange={setCertificate}
      />
      <PemInput
        label={t('Private key (PEM)')}
        name="privateKey"
        value={privateKey}
        error={action.on('privateKey')}
        onChange={setPrivateKey}
      />
      <Submit
        action={action}
        label={t('Install certificate')}
        busy={t('Installing…')}
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
      aria-label={t('Upload Modbus CA')}
      onSubmit={async (e) => {
        e.preventDefault();
        if (await action.run(() => call(ROUTES.uploadModbusCa, { body: { ca } }), t('Installed.')))
          props.onDone();
      }}
    >
      <PemInput
        label={t('CA certificate (PEM)')}
        name="ca"
        value={ca}
        error={action.on('ca')}
        onChange={setCa}
      />
      <Submit action={action} label={t('Install CA')} busy={t('Installing…')} fields={['ca']} />
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
      <Section title={t('HTTPS certificate')}>
        {tls.data ? <Details cert={tls.data} /> : <Loading error={tls.error} />}
        <p class="muted">
          {t('Compare the fingerprint with the one your browser shows before you trust it.')}
        </p>
        {writable && <TlsUpload onDone={tls.reload} />}
      </Section>
      <Section title={t('Modbus/TCP Security client CA')}>
        {ca.data ? (
          ca.data.ca ? (
            <Details cert={ca.data.ca} />
          ) : (
            <p>{t('None installed: Modbus/TCP Security accepts no client until one is.')}</p>
          )
        ) : (
          <Loading error={ca.error} />
        )}
        {writable && <CaUpload onDone={ca.reload} />}
      </Section>
    </div>
  );
}
