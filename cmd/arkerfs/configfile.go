package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/arker-ai/arkerfs/transport"
)

// The connection settings come, setting by setting, from the first of
// these that gives one, as the Arker SDKs and CLI read them (ARKER-API.md
// §1.3): a flag, then the environment, then the Arker CLI's own file,
// ~/.arker/config.json ({"apiKey", "provider", "region"}, written by
// `arker config set`).

// cliConfigFile is the Arker CLI's configuration file, under the home.
const cliConfigFile = ".arker/config.json"

// setting is one resolved value and where it came from.
type setting struct {
	Value  string
	Source string // e.g. "--region", "$ARKER_API_KEY", "~/.arker/config.json"; "" when unset
}

// settings are the resolved connection settings.
type settings struct {
	APIKey, BaseURL, Provider, Region setting
	configShown                       string // how the config file is named in Source
}

// connFlags are the flags that name where the connection settings come
// from, beside --base-url, --region and --api-key-file.
type connFlags struct {
	provider string
	config   string // path of the CLI config file; "" = ~/.arker/config.json
}

func (c *connFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&c.provider, "provider", "", "Arker provider, e.g. aws (default $ARKER_PROVIDER, else the Arker CLI's config)")
	fl.StringVar(&c.config, "config", "", "the Arker CLI's config file, read after flags and environment (default ~/.arker/config.json)")
}

// cliConfig is what arkerfs reads of the Arker CLI's config file; other
// fields are left alone.
type cliConfig struct {
	APIKey   string `json:"apiKey"`
	Provider string `json:"provider"`
	Region   string `json:"region"`
}

// resolveInput is what resolution reads: flag values, the environment
// and the config file's path (shown as shownPath).
type resolveInput struct {
	apiKeyFile, baseURL, provider, region string // flags; "" = not given
	getenv                                func(string) string
	configPath, shownPath                 string // "" = no file to read
	configExplicit                        bool   // the file was named by --config: it must exist
}

// resolveSettings resolves each setting from flags, then environment,
// then the config file. Values are trimmed; empty means unset.
func resolveSettings(in resolveInput) (settings, error) {
	s := settings{configShown: in.shownPath}
	env := func(name string) setting {
		if v := strings.TrimSpace(in.getenv(name)); v != "" {
			return setting{v, "$" + name}
		}
		return setting{}
	}
	first := func(cands ...setting) setting {
		for _, c := range cands {
			if c.Value != "" {
				return c
			}
		}
		return setting{}
	}
	file, err := readCLIConfig(in.configPath, in.configExplicit)
	if err != nil {
		return s, fmt.Errorf("%s: %w", in.shownPath, err)
	}
	fromFile := func(v string) setting {
		if v = strings.TrimSpace(v); v != "" {
			return setting{v, in.shownPath}
		}
		return setting{}
	}
	var keyFlag setting
	if in.apiKeyFile != "" {
		b, err := os.ReadFile(in.apiKeyFile)
		if err != nil {
			return s, fmt.Errorf("reading the API key: %w", err)
		}
		keyFlag = setting{strings.TrimSpace(string(b)), "--api-key-file " + in.apiKeyFile}
		if keyFlag.Value == "" {
			return s, fmt.Errorf("the API key file %s is empty", in.apiKeyFile)
		}
	}
	flagged := func(v, name string) setting {
		if v = strings.TrimSpace(v); v != "" {
			return setting{v, name}
		}
		return setting{}
	}
	s.APIKey = first(keyFlag, env("ARKER_API_KEY"), env("AUTH_KEY"), fromFile(file.APIKey))
	s.BaseURL = first(flagged(in.baseURL, "--base-url"), env("ARKER_BASE_URL"))
	s.Provider = first(flagged(in.provider, "--provider"), env("ARKER_PROVIDER"), fromFile(file.Provider))
	s.Region = first(flagged(in.region, "--region"), env("ARKER_REGION"), fromFile(file.Region))
	return s, nil
}

// readCLIConfig reads the CLI config file. A missing file is no error
// unless it was named explicitly.
func readCLIConfig(path string, explicit bool) (cliConfig, error) {
	var c cliConfig
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return c, nil
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return c, pe.Err // the caller names the file
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return c, fmt.Errorf("not valid JSON (at byte %d: %v)", se.Offset, se)
		case errors.As(err, &te) && te.Field != "":
			return c, fmt.Errorf("%q should be a %s, not a JSON %s", te.Field, te.Type, te.Value)
		}
		return c, errors.New("not a JSON object")
	}
	return c, nil
}

// cliConfigPath is the path of the CLI config file to read and the way
// to show it: --config when given, else ~/.arker/config.json of the
// user's home ($HOME, else the password database), else none.
func cliConfigPath(flagPath string, getenv func(string) string) (path, shown string, explicit bool) {
	if flagPath != "" {
		return flagPath, flagPath, true
	}
	home := getenv("HOME")
	if home == "" {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	if home == "" {
		return "", "~/" + cliConfigFile, false
	}
	return filepath.Join(home, cliConfigFile), "~/" + cliConfigFile, false
}

// resolve resolves the connection settings of the flags in a and builds
// the client configuration for vm from them.
func (a *apiFlags) resolve(vm string) (transport.Config, settings, error) {
	path, shown, explicit := cliConfigPath(a.conn.config, os.Getenv)
	s, err := resolveSettings(resolveInput{
		apiKeyFile: a.apiKeyFile, baseURL: a.baseURL, provider: a.conn.provider, region: a.region,
		getenv: os.Getenv, configPath: path, shownPath: shown, configExplicit: explicit,
	})
	if err != nil {
		return transport.Config{}, s, err
	}
	if _, err := parseLevel(a.log.level); err != nil {
		return transport.Config{}, s, err
	}
	if a.log.format != "text" && a.log.format != "json" {
		return transport.Config{}, s, fmt.Errorf("bad --log-format %q: want text or json", a.log.format)
	}
	cfg := transport.ConfigFromEnv()
	cfg.Retry.Attempts = a.retries
	cfg.RequestTimeout = a.timeout
	cfg, err = s.config(cfg, vm)
	return cfg, s, err
}

// apply puts the settings into cfg.
func (s settings) apply(cfg *transport.Config) {
	cfg.APIKey = s.APIKey.Value
	cfg.BaseURL = s.BaseURL.Value
	cfg.Region = s.Region.Value
	cfg.Provider = s.Provider.Value
}

// config builds the client configuration for vm: cfg with the settings
// applied, checked for what a connection needs, each gap in one line.
func (s settings) config(cfg transport.Config, vm string) (transport.Config, error) {
	s.apply(&cfg)
	cfg.VMID = vm
	if cfg.APIKey == "" {
		return cfg, errors.New("no API key: set ARKER_API_KEY, pass --api-key-file, or run 'arker config set' (~/" + cliConfigFile + ")")
	}
	if _, err := cfg.Endpoint(); err != nil {
		if s.BaseURL.Value == "" && s.Region.Value == "" && s.Provider.Value == "" {
			return cfg, errors.New("no endpoint: set ARKER_PROVIDER and ARKER_REGION or ARKER_BASE_URL, pass --provider and --region or --base-url, or run 'arker config set' (~/" + cliConfigFile + ")")
		}
		return cfg, err
	}
	return cfg, nil
}

// keyRefused is the line for a key the API refused, naming where the key
// came from.
func (s settings) keyRefused() error {
	src, hint := s.APIKey.Source, "check it"
	switch {
	case src == "":
		src = "nowhere"
	case strings.HasPrefix(src, "~/") || src == s.configShown:
		hint = "replace it with 'arker config set'"
	}
	return fmt.Errorf("the API key from %s was refused (401 unauthorized): %s", src, hint)
}

// explainErr is describeErr with the source of a refused key named.
func (s settings) explainErr(err error, vm string) error {
	if transport.CodeOf(err) == transport.CodeUnauthorized {
		return s.keyRefused()
	}
	return describeErr(err, vm)
}

// explainMountErr names the source of a refused key in an error that
// carries its cause (withCause), and leaves others as they are.
func (s settings) explainMountErr(err error) error {
	if transport.CodeOf(err) == transport.CodeUnauthorized {
		return s.keyRefused()
	}
	return err
}

// causedErr is a one-line explanation that keeps the error it explains.
type causedErr struct {
	line  error
	cause error
}

func (e causedErr) Error() string { return e.line.Error() }
func (e causedErr) Unwrap() error { return e.cause }

// withCause keeps cause behind the explanation line.
func withCause(line, cause error) error { return causedErr{line, cause} }

// print writes each setting with its source, the key redacted.
func (s settings) print(w io.Writer) {
	row := func(name string, st setting, shown, note string) {
		src := "(unset)"
		if st.Source != "" {
			src = "from " + st.Source
		}
		if st.Value == "" {
			shown = "-"
		}
		fmt.Fprintf(w, "  %-9s %-40s %s%s\n", name, shown, src, note)
	}
	row("api key", s.APIKey, redactAPIKey(s.APIKey.Value), "")
	row("base URL", s.BaseURL, s.BaseURL.Value, "")
	placement := ""
	if s.BaseURL.Value != "" && (s.Region.Value != "" || s.Provider.Value != "") {
		placement = " (not used: the base URL wins)"
	}
	row("provider", s.Provider, s.Provider.Value, placement)
	row("region", s.Region, s.Region.Value, placement)
}

// redactAPIKey shows at most a key's public prefix ("ark_"), never its
// secret part.
func redactAPIKey(key string) string {
	if key == "" {
		return "(none)"
	}
	if i := strings.IndexByte(key, '_'); i > 0 && i <= 4 && len(key) > 2*(i+1) {
		return key[:i+1] + "…(redacted)"
	}
	return "(redacted)"
}
